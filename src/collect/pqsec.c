/* The security table and the node's level; see pqsec.h for the counting rules. */
#include "pqsec.h"

#include <errno.h>
#include <string.h>

#define SIG PQSEC_SIGNATURE
#define KEX PQSEC_KEY_EXCHANGE
#define HSH PQSEC_HASH

/* A NIST PQC category's level, against both adversaries. */
#define CAT1 128, 128, 1
#define CAT2 128, 128, 2
#define CAT3 192, 192, 3
#define CAT4 192, 192, 4
#define CAT5 256, 256, 5
/* Classical only (Shor): its classical strength, 0 against a quantum adversary. */
#define SHOR(bits) bits, 0, 0
/* A hash of n output bits: n/2 against both. */
#define HASH(n) (n) / 2, (n) / 2, 0

/* clang-format off */
const struct pqsec_alg pqsec_table[] = {
    /* ---- signatures ---- */
    /* FIPS 204 */
    {"ML-DSA-44", SIG, CAT2, {"Dilithium2", "CRYSTALS-Dilithium2"}},
    {"ML-DSA-65", SIG, CAT3, {"Dilithium3", "CRYSTALS-Dilithium3"}},
    {"ML-DSA-87", SIG, CAT5, {"Dilithium5", "CRYSTALS-Dilithium5"}},
    /* FIPS 205 (SPHINCS+) */
    {"SLH-DSA-SHA2-128s", SIG, CAT1, {"SPHINCS+-SHA2-128s", "SPHINCS+-SHA256-128s"}},
    {"SLH-DSA-SHA2-128f", SIG, CAT1, {"SPHINCS+-SHA2-128f", "SPHINCS+-SHA256-128f"}},
    {"SLH-DSA-SHA2-192s", SIG, CAT3, {"SPHINCS+-SHA2-192s", "SPHINCS+-SHA256-192s"}},
    {"SLH-DSA-SHA2-192f", SIG, CAT3, {"SPHINCS+-SHA2-192f", "SPHINCS+-SHA256-192f"}},
    {"SLH-DSA-SHA2-256s", SIG, CAT5, {"SPHINCS+-SHA2-256s", "SPHINCS+-SHA256-256s"}},
    {"SLH-DSA-SHA2-256f", SIG, CAT5, {"SPHINCS+-SHA2-256f", "SPHINCS+-SHA256-256f"}},
    {"SLH-DSA-SHAKE-128s", SIG, CAT1, {"SPHINCS+-SHAKE-128s", "SPHINCS+-SHAKE256-128s"}},
    {"SLH-DSA-SHAKE-128f", SIG, CAT1, {"SPHINCS+-SHAKE-128f", "SPHINCS+-SHAKE256-128f"}},
    {"SLH-DSA-SHAKE-192s", SIG, CAT3, {"SPHINCS+-SHAKE-192s", "SPHINCS+-SHAKE256-192s"}},
    {"SLH-DSA-SHAKE-192f", SIG, CAT3, {"SPHINCS+-SHAKE-192f", "SPHINCS+-SHAKE256-192f"}},
    {"SLH-DSA-SHAKE-256s", SIG, CAT5, {"SPHINCS+-SHAKE-256s", "SPHINCS+-SHAKE256-256s"}},
    {"SLH-DSA-SHAKE-256f", SIG, CAT5, {"SPHINCS+-SHAKE-256f", "SPHINCS+-SHAKE256-256f"}},
    /* FN-DSA (FIPS 206 draft) */
    {"Falcon-512", SIG, CAT1, {"FN-DSA-512"}},
    {"Falcon-1024", SIG, CAT5, {"FN-DSA-1024"}},
    /* classical */
    {"Ed25519", SIG, SHOR(128), {"EdDSA-Ed25519", "EdDSA"}},
    {"Ed448", SIG, SHOR(224), {"EdDSA-Ed448"}},
    {"secp256k1", SIG, SHOR(128), {"ECDSA-secp256k1", "ES256K", "Schnorr-secp256k1", "BIP340"}},
    {"ECDSA-P256", SIG, SHOR(128), {"P-256", "secp256r1", "prime256v1", "ES256",
                                    "ECDSA-secp256r1"}},
    {"ECDSA-P384", SIG, SHOR(192), {"P-384", "secp384r1", "ES384", "ECDSA-secp384r1"}},
    {"ECDSA-P521", SIG, SHOR(256), {"P-521", "secp521r1", "ES512", "ECDSA-secp521r1"}},
    {"sr25519", SIG, SHOR(128), {"Schnorrkel"}},
    {"BLS12-381", SIG, SHOR(117), {"BLS", "BLS12381"}},
    {"BN254", SIG, SHOR(100), {"alt_bn128", "BN256"}},
    {"RSA-2048", SIG, SHOR(112), {"RS256", "PS256"}},
    {"RSA-3072", SIG, SHOR(128), {NULL}},
    {"RSA-4096", SIG, SHOR(152), {NULL}},

    /* ---- key exchange (KEMs, key agreement, key transport) ---- */
    /* FIPS 203 */
    {"ML-KEM-512", KEX, CAT1, {"Kyber512", "CRYSTALS-Kyber512"}},
    {"ML-KEM-768", KEX, CAT3, {"Kyber768", "CRYSTALS-Kyber768"}},
    {"ML-KEM-1024", KEX, CAT5, {"Kyber1024", "CRYSTALS-Kyber1024"}},
    /* hybrids (TLS group names): the stronger part holds */
    {"X25519MLKEM768", KEX, CAT3, {"X25519Kyber768Draft00", "X25519Kyber768", "X25519+ML-KEM-768"}},
    {"SecP256r1MLKEM768", KEX, CAT3, {"P256MLKEM768", "P-256+ML-KEM-768"}},
    {"SecP384r1MLKEM1024", KEX, CAT5, {"P384MLKEM1024", "P-384+ML-KEM-1024"}},
    /* other NIST round 4 and ISO candidates */
    {"HQC-128", KEX, CAT1, {NULL}},
    {"HQC-192", KEX, CAT3, {NULL}},
    {"HQC-256", KEX, CAT5, {NULL}},
    {"FrodoKEM-640", KEX, CAT1, {"FrodoKEM-640-AES", "FrodoKEM-640-SHAKE"}},
    {"FrodoKEM-976", KEX, CAT3, {"FrodoKEM-976-AES", "FrodoKEM-976-SHAKE"}},
    {"FrodoKEM-1344", KEX, CAT5, {"FrodoKEM-1344-AES", "FrodoKEM-1344-SHAKE"}},
    {"Classic-McEliece-348864", KEX, CAT1, {"McEliece348864"}},
    {"Classic-McEliece-460896", KEX, CAT3, {"McEliece460896"}},
    {"Classic-McEliece-6688128", KEX, CAT5, {"McEliece6688128"}},
    {"Classic-McEliece-6960119", KEX, CAT5, {"McEliece6960119"}},
    {"Classic-McEliece-8192128", KEX, CAT5, {"McEliece8192128"}},
    /* classical */
    {"X25519", KEX, SHOR(128), {"Curve25519", "ECDH-X25519"}},
    {"X448", KEX, SHOR(224), {"Curve448", "ECDH-X448"}},
    {"ECDH-P256", KEX, SHOR(128), {"P-256", "secp256r1", "prime256v1", "ECDH-secp256r1"}},
    {"ECDH-P384", KEX, SHOR(192), {"P-384", "secp384r1", "ECDH-secp384r1"}},
    {"ECDH-P521", KEX, SHOR(256), {"P-521", "secp521r1", "ECDH-secp521r1"}},
    {"ECDH-secp256k1", KEX, SHOR(128), {"secp256k1", "ECIES-secp256k1"}},
    {"FFDHE2048", KEX, SHOR(112), {"DH-2048"}},
    {"FFDHE3072", KEX, SHOR(128), {"DH-3072"}},
    {"FFDHE4096", KEX, SHOR(152), {"DH-4096"}},
    {"RSA-2048", KEX, SHOR(112), {"RSA-KEM-2048"}},
    {"RSA-3072", KEX, SHOR(128), {"RSA-KEM-3072"}},
    {"RSA-4096", KEX, SHOR(152), {"RSA-KEM-4096"}},

    /* ---- hashes ---- */
    {"SHA-224", HSH, HASH(224), {NULL}},
    {"SHA-256", HSH, HASH(256), {"SHA2-256"}},
    {"SHA-256d", HSH, HASH(256), {"double-SHA-256", "dSHA256"}},
    {"SHA-384", HSH, HASH(384), {"SHA2-384"}},
    {"SHA-512", HSH, HASH(512), {"SHA2-512"}},
    {"SHA-512/256", HSH, HASH(256), {"SHA2-512/256"}},
    {"SHA3-224", HSH, HASH(224), {NULL}},
    {"SHA3-256", HSH, HASH(256), {NULL}},
    {"SHA3-384", HSH, HASH(384), {NULL}},
    {"SHA3-512", HSH, HASH(512), {NULL}},
    {"Keccak-256", HSH, HASH(256), {"keccak"}},
    {"Keccak-512", HSH, HASH(512), {NULL}},
    {"SHAKE128", HSH, HASH(256), {NULL}},  /* with 256 output bits (its capacity caps it there) */
    {"SHAKE256", HSH, HASH(512), {NULL}},  /* with 512 output bits */
    {"BLAKE2b-256", HSH, HASH(256), {NULL}},
    {"BLAKE2b-512", HSH, HASH(512), {"BLAKE2b"}},
    {"BLAKE2s-256", HSH, HASH(256), {"BLAKE2s"}},
    {"BLAKE3", HSH, HASH(256), {"BLAKE3-256"}},
    {"RIPEMD-160", HSH, HASH(160), {"RIPEMD160", "HASH160"}},
    {"SHA-1", HSH, 0, 0, 0, {"SHA1"}}, /* collisions found in practice */
    {"MD5", HSH, 0, 0, 0, {NULL}},
};
/* clang-format on */

const size_t pqsec_table_len = sizeof(pqsec_table) / sizeof(pqsec_table[0]);

const char *pqsec_kind_name(enum pqsec_kind kind)
{
    static const char *const names[PQSEC_KINDS] = {"signature", "key exchange", "hash"};

    return (unsigned)kind < PQSEC_KINDS ? names[kind] : "?";
}

#define NORM_MAX 64

/* name lower-cased, letters, digits and '+' only (a hybrid's '+' is no
 * punctuation), into out (NORM_MAX bytes); false if it does not fit or has none. */
static bool normalize(const char *name, size_t len, char *out)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+'))
            continue;
        if (n + 1 >= NORM_MAX)
            return false;
        out[n++] = c;
    }
    out[n] = '\0';
    return n > 0;
}

static bool same(const char *norm, const char *candidate)
{
    char c[NORM_MAX];

    return candidate && normalize(candidate, strlen(candidate), c) && !strcmp(norm, c);
}

static const struct pqsec_alg *find_norm(enum pqsec_kind kind, const char *norm)
{
    for (size_t i = 0; i < pqsec_table_len; i++) {
        const struct pqsec_alg *a = &pqsec_table[i];
        if (a->kind != kind)
            continue;
        if (same(norm, a->name))
            return a;
        for (size_t k = 0; k < PQSEC_MAX_ALIASES && a->aliases[k]; k++)
            if (same(norm, a->aliases[k]))
                return a;
    }
    return NULL;
}

const struct pqsec_alg *pqsec_find(enum pqsec_kind kind, const char *name)
{
    char norm[NORM_MAX];

    if (!name || !normalize(name, strlen(name), norm))
        return NULL;
    return find_norm(kind, norm);
}

int pqsec_eval(enum pqsec_kind kind, const char *name, struct pqsec_level *ret)
{
    const struct pqsec_alg *a;
    struct pqsec_level lv = {0, 0};
    const char *p;
    unsigned parts = 0;

    if (!name || !*name)
        return -EINVAL;
    a = pqsec_find(kind, name); /* whole names first: "SPHINCS+-SHA2-128s" has a '+' */
    if (a) {
        *ret = (struct pqsec_level){a->classical_bits, a->quantum_bits};
        return 0;
    }
    if (!strchr(name, '+'))
        return -ENOENT;
    for (p = name;; parts++) {
        size_t n = strcspn(p, "+");
        char norm[NORM_MAX];
        if (parts == PQSEC_MAX_PARTS)
            return -ENOENT;
        if (!normalize(p, n, norm))
            return -EINVAL;
        a = find_norm(kind, norm);
        if (!a)
            return -ENOENT;
        /* a hybrid holds while any of its parts holds */
        if (a->classical_bits > lv.classical_bits)
            lv.classical_bits = a->classical_bits;
        if (a->quantum_bits > lv.quantum_bits)
            lv.quantum_bits = a->quantum_bits;
        if (!p[n])
            break;
        p += n + 1;
    }
    *ret = lv;
    return 0;
}

/* Edit distance of two short strings, a swap of neighbours counting one edit
 * ("SHA3-265" is one from "SHA3-256"), capped: anything over cap is cap + 1. */
static unsigned distance(const char *a, const char *b, unsigned cap)
{
    unsigned rows[3][NORM_MAX + 1], *pp = rows[0], *p = rows[1], *d = rows[2];
    size_t la = strlen(a), lb = strlen(b);

    if (la >= NORM_MAX || lb >= NORM_MAX)
        return cap + 1;
    if ((la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    for (size_t j = 0; j <= lb; j++)
        p[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned *t;
        d[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned best = p[j - 1] + (a[i - 1] != b[j - 1]);
            if (p[j] + 1 < best)
                best = p[j] + 1;
            if (d[j - 1] + 1 < best)
                best = d[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            d[j] = best;
        }
        t = pp;
        pp = p;
        p = d;
        d = t;
    }
    return p[lb] > cap ? cap + 1 : p[lb];
}

const char *pqsec_suggest(enum pqsec_kind kind, const char *name)
{
    char norm[NORM_MAX], c[NORM_MAX];
    const char *best = NULL;
    unsigned bd = 3;

    if (!name || !normalize(name, strlen(name), norm))
        return NULL;
    for (size_t i = 0; i < pqsec_table_len; i++) {
        const struct pqsec_alg *a = &pqsec_table[i];
        if (a->kind != kind)
            continue;
        for (size_t k = 0; k <= PQSEC_MAX_ALIASES; k++) {
            const char *cand = k == 0 ? a->name : a->aliases[k - 1];
            unsigned dd;
            if (!cand)
                break;
            if (!normalize(cand, strlen(cand), c))
                continue;
            dd = distance(norm, c, 2);
            if (dd < bd) {
                bd = dd;
                best = a->name;
            }
        }
    }
    return best;
}

int pqsec_summarize(const struct pqsec_use *use, struct pqsec_summary *ret, const char **ret_bad)
{
    struct pqsec_summary s = {
        .quantum_bits = UINT16_MAX, .classical_bits = UINT16_MAX, .signature_quantum_max = -1};

    for (int k = 0; k < PQSEC_KINDS; k++) {
        for (size_t i = 0; i < use->n[k]; i++) {
            const char *name = use->names[k][i];
            struct pqsec_level lv;
            if (pqsec_eval((enum pqsec_kind)k, name, &lv) < 0) {
                if (ret_bad)
                    *ret_bad = name;
                return -ENOENT;
            }
            s.kind_used[k] = true;
            s.counted++;
            if (lv.quantum_bits < s.quantum_bits) {
                s.quantum_bits = lv.quantum_bits;
                s.weakest = name;
            }
            if (lv.classical_bits < s.classical_bits)
                s.classical_bits = lv.classical_bits;
            if (k == PQSEC_SIGNATURE && (int)lv.quantum_bits > s.signature_quantum_max)
                s.signature_quantum_max = lv.quantum_bits;
        }
    }
    if (!s.counted)
        return -ENODATA;
    *ret = s;
    return 0;
}
