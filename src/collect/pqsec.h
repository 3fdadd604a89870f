/*
 * Security levels of the algorithms a node uses, against a classical and
 * against a quantum adversary: a table (pqsec.c, documented in
 * docs/metrics.md) and the node's level, the minimum over what it uses.
 *
 * The counting rules, in bits of "AES-equivalent" security strength (the key
 * length of the AES whose key search is as hard), as NIST's post-quantum
 * categories are defined:
 *   - NIST PQC category 1 and 2 count 128, 3 and 4 count 192, 5 counts 256, against
 *     both adversaries (the categories are defined against quantum attacks too);
 *   - RSA, finite-field and elliptic-curve algorithms count their classical
 *     strength (SP 800-57, SP 800-56B) and 0 against a quantum adversary (Shor);
 *   - a hash of n output bits counts n/2 against both: collisions (birthday
 *     bound) classically and preimages (Grover) against a quantum adversary;
 *     quantum collision search (BHT, n/3) is not counted, as NIST does not,
 *     for its memory; a hash with practical collisions (SHA-1, MD5) counts 0;
 *   - a hybrid ("X25519MLKEM768", or any "A+B" of one kind) holds while any
 *     part does: the maximum of its parts, per adversary.
 *
 * Names match case-insensitively and ignoring everything but letters, digits
 * and '+' ("ML-DSA-65", "ml_dsa_65" and "mldsa65" are one), with the usual
 * aliases (Dilithium3, Kyber768, prime256v1, ...). Pure: no I/O, no
 * allocation; every function is thread-safe.
 */
#ifndef AM_COLLECT_PQSEC_H
#define AM_COLLECT_PQSEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pqsec_kind {
    PQSEC_SIGNATURE,
    PQSEC_KEY_EXCHANGE,
    PQSEC_HASH,
    PQSEC_KINDS,
};

#define PQSEC_MAX_ALIASES 6
#define PQSEC_MAX_PARTS   4 /* parts of an "A+B" hybrid */

struct pqsec_alg {
    const char *name; /* canonical: "ML-DSA-65" */
    enum pqsec_kind kind;
    uint16_t classical_bits;
    uint16_t quantum_bits; /* 0: broken by a quantum computer (Shor) */
    uint8_t category;      /* NIST PQC category 1 to 5; 0: none */
    const char *aliases[PQSEC_MAX_ALIASES];
};

/* The table, grouped by kind. */
extern const struct pqsec_alg pqsec_table[];
extern const size_t pqsec_table_len;

/* "signature", "key exchange", "hash". */
const char *pqsec_kind_name(enum pqsec_kind kind);

/* The entry of this kind that name (or one of its aliases) names; NULL if none.
 * name may be NULL (NULL). */
const struct pqsec_alg *pqsec_find(enum pqsec_kind kind, const char *name);

struct pqsec_level {
    uint16_t classical_bits;
    uint16_t quantum_bits;
};

/*
 * The levels of name as an algorithm of this kind: a table entry, or a hybrid
 * of up to PQSEC_MAX_PARTS entries of the kind joined by '+'
 * ("Ed25519+ML-DSA-65"). 0 and *ret written; -ENOENT for an unknown name or a
 * part of another kind, -EINVAL for NULL or an empty part.
 */
int pqsec_eval(enum pqsec_kind kind, const char *name, struct pqsec_level *ret);

/* The canonical name of the entry of this kind whose name or alias is closest
 * to name (a typo: at most two edits apart, letters and digits only), or NULL. */
const char *pqsec_suggest(enum pqsec_kind kind, const char *name);

/* What a node uses: per kind, n[kind] names at names[kind] (n 0: none). */
struct pqsec_use {
    const char *const *names[PQSEC_KINDS];
    size_t n[PQSEC_KINDS];
};

struct pqsec_summary {
    size_t counted;              /* algorithms counted, all kinds */
    uint16_t quantum_bits;       /* the minimum over them: the node's level */
    uint16_t classical_bits;     /* the same against a classical adversary */
    const char *weakest;         /* the (caller's) name that sets quantum_bits */
    int signature_quantum_max;   /* best quantum level among the signatures; -1: none */
    bool kind_used[PQSEC_KINDS]; /* which kinds were configured */
};

/*
 * The node's levels over every algorithm in use: 0 and *ret written; -ENODATA
 * when no algorithm is given; -ENOENT (ret_bad, when not NULL, set to the
 * caller's name that is not known for its kind) for an unknown name.
 */
int pqsec_summarize(const struct pqsec_use *use, struct pqsec_summary *ret, const char **ret_bad);

#endif
