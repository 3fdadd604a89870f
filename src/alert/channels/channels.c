/* The table of alert channels: a new channel is a file in this folder and a line here. */
#include <string.h>

#include "alert/alert.h"

extern const struct alert_channel_ops alert_console, alert_logfile, alert_webhook,
    alert_alertmanager, alert_email;

const struct alert_channel_ops *const alert_channels[] = {
    &alert_console, &alert_logfile, &alert_webhook, &alert_alertmanager, &alert_email, NULL,
};

const struct alert_channel_ops *alert_channel_find(const char *name)
{
    for (size_t i = 0; alert_channels[i]; i++)
        if (name && !strcmp(alert_channels[i]->name, name))
            return alert_channels[i];
    return NULL;
}
