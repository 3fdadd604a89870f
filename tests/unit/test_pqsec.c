/* The security table and the node's level: counting rules, names and aliases,
 * hybrids, the minimum over what a node uses, and hints for typos. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "collect/pqsec.h"

static struct pqsec_level level(enum pqsec_kind kind, const char *name)
{
    struct pqsec_level lv = {UINT16_MAX, UINT16_MAX};

    if (pqsec_eval(kind, name, &lv) < 0)
        fail_msg("'%s' is not a known %s algorithm", name, pqsec_kind_name(kind));
    return lv;
}

#define ASSERT_LEVEL(kind, name, c, q)                                                             \
    do {                                                                                           \
        struct pqsec_level lv_ = level(kind, name);                                                \
        if (lv_.classical_bits != (c) || lv_.quantum_bits != (q))                                  \
            fail_msg("%s: %u/%u bits, expected %u/%u", name, lv_.classical_bits, lv_.quantum_bits, \
                     (unsigned)(c), (unsigned)(q));                                                \
    } while (0)

/* The NIST categories map to 128, 192, 256 bits against both adversaries. */
static void post_quantum_categories(void **state)
{
    (void)state;
    ASSERT_LEVEL(PQSEC_SIGNATURE, "ML-DSA-44", 128, 128);
    ASSERT_LEVEL(PQSEC_SIGNATURE, "ML-DSA-65", 192, 192);
    ASSERT_LEVEL(PQSEC_SIGNATURE, "ML-DSA-87", 256, 256);
    ASSERT_LEVEL(PQSEC_SIGNATURE, "Falcon-512", 128, 128);
    ASSERT_LEVEL(PQSEC_SIGNATURE, "Falcon-1024", 256, 256);
    ASSERT_LEVEL(PQSEC_SIGNATURE, "SLH-DSA-SHA2-128s", 128, 128);
    ASSERT_LEVEL(PQSEC_SIGNATURE, "SLH-DSA-SHAKE-192f", 192, 192);
    ASSERT_LEVEL(PQSEC_SIGNATURE, "SLH-DSA-SHA2-256f", 256, 256);
    ASSERT_LEVEL(PQSEC_KEY_EXCHANGE, "ML-KEM-512", 128, 128);
    ASSERT_LEVEL(PQSEC_KEY_EXCHANGE, "ML-KEM-768", 192, 192);
    ASSERT_LEVEL(PQSEC_KEY_EXCHANGE, "ML-KEM-1024", 256, 256);
    ASSERT_LEVEL(PQSEC_KEY_EXCHANGE, "HQC-128", 128, 128);
    ASSERT_LEVEL(PQSEC_KEY_EXCHANGE, "Classic-McEliece-6960119", 256, 256);
    assert_int_equal(pqsec_find(PQSEC_SIGNATURE, "ML-DSA-44")->category, 2);
    assert_int_equal(pqsec_find(PQSEC_KEY_EXCHANGE, "ML-KEM-768")->category, 3);
}

/* Shor breaks RSA, finite-field and elliptic-curve algorithms: 0 quantum bits. */
static void classical_algorithms(void **state)
{
    (void)state;
    ASSERT_LEVEL(PQSEC_SIGNATURE, "Ed25519", 128, 0);
    ASSERT_LEVEL(PQSEC_SIGNATURE, "secp256k1", 128, 0);
    ASSERT_LEVEL(PQSEC_SIGNATURE, "ECDSA-P256", 128, 0);
    ASSERT_LEVEL(PQSEC_SIGNATURE, "ECDSA-P384", 192, 0);
    ASSERT_LEVEL(PQSEC_SIGNATURE, "RSA-2048", 112, 0);
    ASSERT_LEVEL(PQSEC_SIGNATURE, "RSA-3072", 128, 0);
    ASSERT_LEVEL(PQSEC_SIGNATURE, "BLS12-381", 117, 0);
    ASSERT_LEVEL(PQSEC_SIGNATURE, "sr25519", 128, 0);
    ASSERT_LEVEL(PQSEC_KEY_EXCHANGE, "X25519", 128, 0);
    ASSERT_LEVEL(PQSEC_KEY_EXCHANGE, "ECDH-P256", 128, 0);
    ASSERT_LEVEL(PQSEC_KEY_EXCHANGE, "FFDHE2048", 112, 0);
}

/* A hash of n bits counts n/2 against both adversaries; broken ones count 0. */
static void hashes(void **state)
{
    (void)state;
    ASSERT_LEVEL(PQSEC_HASH, "SHA-256", 128, 128);
    ASSERT_LEVEL(PQSEC_HASH, "SHA3-256", 128, 128);
    ASSERT_LEVEL(PQSEC_HASH, "Keccak-256", 128, 128);
    ASSERT_LEVEL(PQSEC_HASH, "BLAKE2b-512", 256, 256);
    ASSERT_LEVEL(PQSEC_HASH, "BLAKE2s", 128, 128);
    ASSERT_LEVEL(PQSEC_HASH, "BLAKE3", 128, 128);
    ASSERT_LEVEL(PQSEC_HASH, "SHA-384", 192, 192);
    ASSERT_LEVEL(PQSEC_HASH, "SHA3-512", 256, 256);
    ASSERT_LEVEL(PQSEC_HASH, "RIPEMD-160", 80, 80);
    ASSERT_LEVEL(PQSEC_HASH, "SHA-1", 0, 0);
}

/* Case, punctuation and the usual aliases do not matter; the kind does. */
static void names_and_aliases(void **state)
{
    (void)state;
    assert_string_equal(pqsec_find(PQSEC_SIGNATURE, "ml_dsa_65")->name, "ML-DSA-65");
    assert_string_equal(pqsec_find(PQSEC_SIGNATURE, "MLDSA65")->name, "ML-DSA-65");
    assert_string_equal(pqsec_find(PQSEC_SIGNATURE, "Dilithium3")->name, "ML-DSA-65");
    assert_string_equal(pqsec_find(PQSEC_SIGNATURE, "prime256v1")->name, "ECDSA-P256");
    assert_string_equal(pqsec_find(PQSEC_SIGNATURE, "SPHINCS+-SHAKE-128s")->name,
                        "SLH-DSA-SHAKE-128s");
    assert_string_equal(pqsec_find(PQSEC_KEY_EXCHANGE, "kyber768")->name, "ML-KEM-768");
    assert_string_equal(pqsec_find(PQSEC_KEY_EXCHANGE, "P-256")->name, "ECDH-P256");
    assert_string_equal(pqsec_find(PQSEC_KEY_EXCHANGE, "secp256k1")->name, "ECDH-secp256k1");
    assert_string_equal(pqsec_find(PQSEC_HASH, "keccak256")->name, "Keccak-256");
    assert_null(pqsec_find(PQSEC_SIGNATURE, "ML-KEM-768")); /* a KEM is not a signature */
    assert_null(pqsec_find(PQSEC_HASH, "Ed25519"));
    assert_null(pqsec_find(PQSEC_SIGNATURE, ""));
    assert_null(pqsec_find(PQSEC_SIGNATURE, "--"));
    assert_null(pqsec_find(PQSEC_SIGNATURE, NULL));
    assert_string_equal(pqsec_kind_name(PQSEC_KEY_EXCHANGE), "key exchange");
}

/* No two entries of a kind answer to the same name, and every entry is sane. */
static void table_is_consistent(void **state)
{
    (void)state;
    for (size_t i = 0; i < pqsec_table_len; i++) {
        const struct pqsec_alg *a = &pqsec_table[i];
        assert_ptr_equal(pqsec_find(a->kind, a->name), a);
        for (size_t k = 0; k < PQSEC_MAX_ALIASES && a->aliases[k]; k++)
            if (pqsec_find(a->kind, a->aliases[k]) != a)
                fail_msg("alias '%s' of %s finds %s", a->aliases[k], a->name,
                         pqsec_find(a->kind, a->aliases[k])->name);
        assert_true(a->quantum_bits <= a->classical_bits || a->category);
        if (a->category)
            assert_int_equal(a->quantum_bits, a->category <= 2   ? 128
                                              : a->category <= 4 ? 192
                                                                 : 256);
    }
}

/* "A+B": a hybrid holds while any part holds. */
static void hybrids(void **state)
{
    struct pqsec_level lv;

    (void)state;
    ASSERT_LEVEL(PQSEC_SIGNATURE, "Ed25519+ML-DSA-65", 192, 192);
    ASSERT_LEVEL(PQSEC_SIGNATURE, "ecdsa-p384 + ml-dsa-44", 192, 128);
    ASSERT_LEVEL(PQSEC_KEY_EXCHANGE, "X25519MLKEM768", 192, 192);
    ASSERT_LEVEL(PQSEC_KEY_EXCHANGE, "X25519+ML-KEM-768", 192, 192);
    ASSERT_LEVEL(PQSEC_KEY_EXCHANGE, "X448+ML-KEM-512", 224, 128);
    assert_int_equal(pqsec_eval(PQSEC_SIGNATURE, "Ed25519+ML-KEM-768", &lv), -ENOENT);
    assert_int_equal(pqsec_eval(PQSEC_SIGNATURE, "Ed25519+", &lv), -EINVAL);
    assert_int_equal(pqsec_eval(PQSEC_SIGNATURE, "Ed25519+Ed25519+Ed25519+Ed25519+Ed25519", &lv),
                     -ENOENT);
    assert_int_equal(pqsec_eval(PQSEC_SIGNATURE, "", &lv), -EINVAL);
    assert_int_equal(pqsec_eval(PQSEC_SIGNATURE, "nope", &lv), -ENOENT);
}

/* The node's level is the minimum over every algorithm in use. */
static void summary(void **state)
{
    const char *sig[] = {"ML-DSA-65", "Falcon-512"};
    const char *kex[] = {"X25519MLKEM768"};
    const char *hash[] = {"SHA3-256"};
    const char *bad_sig[] = {"ML-DSA-65", "Ed25591"};
    const char *classical[] = {"Ed25519", "secp256k1"};
    struct pqsec_use use = {.names = {sig, kex, hash}, .n = {2, 1, 1}};
    struct pqsec_summary s;
    const char *bad = NULL;

    (void)state;
    assert_int_equal(pqsec_summarize(&use, &s, &bad), 0);
    assert_int_equal(s.counted, 4);
    assert_int_equal(s.quantum_bits, 128);
    assert_int_equal(s.classical_bits, 128);
    assert_string_equal(s.weakest, "Falcon-512");
    assert_int_equal(s.signature_quantum_max, 192);
    assert_true(s.kind_used[PQSEC_SIGNATURE] && s.kind_used[PQSEC_HASH]);

    /* a classical part anywhere brings the node to 0 */
    use.names[PQSEC_KEY_EXCHANGE] = (const char *[]){"X25519"};
    assert_int_equal(pqsec_summarize(&use, &s, NULL), 0);
    assert_int_equal(s.quantum_bits, 0);
    assert_string_equal(s.weakest, "X25519");
    assert_int_equal(s.signature_quantum_max, 192);

    /* signatures all classical */
    use = (struct pqsec_use){.names = {classical}, .n = {2}};
    assert_int_equal(pqsec_summarize(&use, &s, NULL), 0);
    assert_int_equal(s.signature_quantum_max, 0);
    assert_false(s.kind_used[PQSEC_KEY_EXCHANGE]);

    /* only a hash: no signature */
    use = (struct pqsec_use){.names = {NULL, NULL, hash}, .n = {0, 0, 1}};
    assert_int_equal(pqsec_summarize(&use, &s, NULL), 0);
    assert_int_equal(s.signature_quantum_max, -1);
    assert_int_equal(s.quantum_bits, 128);

    use = (struct pqsec_use){.names = {bad_sig}, .n = {2}};
    assert_int_equal(pqsec_summarize(&use, &s, &bad), -ENOENT);
    assert_string_equal(bad, "Ed25591");
    use = (struct pqsec_use){.n = {0, 0, 0}};
    assert_int_equal(pqsec_summarize(&use, &s, NULL), -ENODATA);
}

/* A typo gets a hint; another word does not. */
static void suggestions(void **state)
{
    (void)state;
    assert_string_equal(pqsec_suggest(PQSEC_SIGNATURE, "Ed2559"), "Ed25519");
    assert_string_equal(pqsec_suggest(PQSEC_SIGNATURE, "ML-DSA-56"), "ML-DSA-65");
    assert_string_equal(pqsec_suggest(PQSEC_HASH, "SHA3-265"), "SHA3-256");
    assert_string_equal(pqsec_suggest(PQSEC_KEY_EXCHANGE, "Kyber786"), "ML-KEM-768");
    assert_null(pqsec_suggest(PQSEC_SIGNATURE, "quantum-safe"));
    assert_null(pqsec_suggest(PQSEC_HASH, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(post_quantum_categories),
        cmocka_unit_test(classical_algorithms),
        cmocka_unit_test(hashes),
        cmocka_unit_test(names_and_aliases),
        cmocka_unit_test(table_is_consistent),
        cmocka_unit_test(hybrids),
        cmocka_unit_test(summary),
        cmocka_unit_test(suggestions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
