/* test_seal.c — crypto/cr_seal.c: sealed blobs under a ring of named keys
 * (session tickets, the hitless-restart file).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cr_seal.h"
#include "cu_main.h"

#define LABEL "dtlsgw test v1"

static const uint8_t k_aad[] = "peer 10.0.0.1:5684";

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 131u + i * 7u);
}

static void test_round_trip_and_layout(void)
{
    struct cr_seal_ring r;
    uint8_t pt[300], blob[400], back[300];
    size_t bl = 0, pl = 0;
    unsigned ki = 99;
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_init(&r), 0);
    fill(pt, sizeof(pt), 1);
    /* no key yet */
    CU_ASSERT_EQUAL(cr_seal(&r, LABEL, NULL, 0, pt, sizeof(pt), blob, sizeof(blob), &bl),
                    CR_ERR_INVAL);
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_rotate(&r, 1000), 0);
    CU_ASSERT_EQUAL_FATAL(
        cr_seal(&r, LABEL, k_aad, sizeof(k_aad), pt, sizeof(pt), blob, sizeof(blob), &bl), 0);
    CU_ASSERT_EQUAL(bl, sizeof(pt) + CR_SEAL_OVERHEAD);
    CU_ASSERT(memcmp(blob, r.k[0].name, CR_SEAL_NAME_LEN) == 0);
    /* the plaintext does not appear in the blob */
    CU_ASSERT(memmem(blob, bl, pt + 10, 32) == NULL);
    CU_ASSERT_EQUAL(
        cr_unseal(&r, LABEL, k_aad, sizeof(k_aad), blob, bl, back, sizeof(back), &pl, &ki), 0);
    CU_ASSERT_EQUAL(pl, sizeof(pt));
    CU_ASSERT_EQUAL(ki, 0);
    CU_ASSERT(memcmp(back, pt, sizeof(pt)) == 0);
    /* ciphertext and tag are AES-256-GCM of pt with AAD len(label)|label|name|aad */
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t ref[300], tag[16], ll = (uint8_t)strlen(LABEL);
    int n = 0;
    CU_ASSERT_FATAL(c != NULL);
    CU_ASSERT(
        EVP_EncryptInit_ex2(c, EVP_aes_256_gcm(), r.k[0].key, blob + CR_SEAL_NAME_LEN, NULL) == 1);
    CU_ASSERT(EVP_EncryptUpdate(c, NULL, &n, &ll, 1) == 1);
    CU_ASSERT(EVP_EncryptUpdate(c, NULL, &n, (const uint8_t *)LABEL, ll) == 1);
    CU_ASSERT(EVP_EncryptUpdate(c, NULL, &n, r.k[0].name, CR_SEAL_NAME_LEN) == 1);
    CU_ASSERT(EVP_EncryptUpdate(c, NULL, &n, k_aad, sizeof(k_aad)) == 1);
    CU_ASSERT(EVP_EncryptUpdate(c, ref, &n, pt, sizeof(pt)) == 1);
    CU_ASSERT(EVP_EncryptFinal_ex(c, ref + n, &n) == 1);
    CU_ASSERT(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1);
    EVP_CIPHER_CTX_free(c);
    CU_ASSERT(memcmp(blob + CR_SEAL_NAME_LEN + CR_SEAL_IV_LEN, ref, sizeof(pt)) == 0);
    CU_ASSERT(memcmp(blob + bl - 16, tag, 16) == 0);
    /* two seals of the same state differ (random IV) */
    uint8_t blob2[400];
    size_t bl2 = 0;
    CU_ASSERT_EQUAL(
        cr_seal(&r, LABEL, k_aad, sizeof(k_aad), pt, sizeof(pt), blob2, sizeof(blob2), &bl2), 0);
    CU_ASSERT(memcmp(blob, blob2, bl) != 0);
    CU_ASSERT_EQUAL(r.k[0].uses, 2);
    /* an empty state seals too */
    CU_ASSERT_EQUAL(cr_seal(&r, LABEL, NULL, 0, NULL, 0, blob2, sizeof(blob2), &bl2), 0);
    CU_ASSERT_EQUAL(bl2, CR_SEAL_OVERHEAD);
    CU_ASSERT_EQUAL(cr_unseal(&r, LABEL, NULL, 0, blob2, bl2, back, sizeof(back), &pl, NULL), 0);
    CU_ASSERT_EQUAL(pl, 0);
    cr_seal_ring_wipe(&r);
}

static void test_every_alteration_fails(void)
{
    struct cr_seal_ring r;
    uint8_t pt[64], blob[64 + CR_SEAL_OVERHEAD], back[64];
    size_t bl = 0, pl = 0;
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_init(&r), 0);
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_rotate(&r, 0), 0);
    fill(pt, sizeof(pt), 2);
    CU_ASSERT_EQUAL_FATAL(
        cr_seal(&r, LABEL, k_aad, sizeof(k_aad), pt, sizeof(pt), blob, sizeof(blob), &bl), 0);
    unsigned refused = 0;
    for (size_t i = 0; i < bl; i++)
        for (unsigned bit = 0; bit < 8; bit++) {
            blob[i] ^= (uint8_t)(1u << bit);
            memset(back, 0xaa, sizeof(back));
            int rc =
                cr_unseal(&r, LABEL, k_aad, sizeof(k_aad), blob, bl, back, sizeof(back), &pl, NULL);
            refused += rc == CR_ERR_AUTH;
            blob[i] ^= (uint8_t)(1u << bit);
        }
    CU_ASSERT_EQUAL(refused, bl * 8);
    /* nothing of the plaintext is left in the output after a failure */
    CU_ASSERT(memmem(back, sizeof(back), pt, 8) == NULL);
    /* other label, other AAD, label/AAD boundary moved, truncation */
    CU_ASSERT_EQUAL(cr_unseal(&r, "dtlsgw restart v1", k_aad, sizeof(k_aad), blob, bl, back,
                              sizeof(back), &pl, NULL),
                    CR_ERR_AUTH);
    CU_ASSERT_EQUAL(
        cr_unseal(&r, LABEL, k_aad, sizeof(k_aad) - 1, blob, bl, back, sizeof(back), &pl, NULL),
        CR_ERR_AUTH);
    uint8_t moved[sizeof(k_aad) + 1];
    moved[0] = '1';
    memcpy(moved + 1, k_aad, sizeof(k_aad));
    CU_ASSERT_EQUAL(cr_unseal(&r, "dtlsgw test v", moved, sizeof(moved), blob, bl, back,
                              sizeof(back), &pl, NULL),
                    CR_ERR_AUTH);
    for (size_t cut = 0; cut < bl; cut++) {
        int rc =
            cr_unseal(&r, LABEL, k_aad, sizeof(k_aad), blob, cut, back, sizeof(back), &pl, NULL);
        if (rc != (cut < CR_SEAL_OVERHEAD ? CR_ERR_DECODE : CR_ERR_AUTH)) {
            CU_FAIL("truncated blob not refused with its reason");
            break;
        }
    }
    /* plaintext buffer too small, output too small */
    CU_ASSERT_EQUAL(
        cr_unseal(&r, LABEL, k_aad, sizeof(k_aad), blob, bl, back, sizeof(back) - 1, &pl, NULL),
        CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(cr_seal(&r, LABEL, NULL, 0, pt, sizeof(pt), blob, sizeof(blob) - 1, &bl),
                    CR_ERR_LIMIT);
    /* a key at its use limit refuses and asks for a rotation */
    r.k[0].uses = CR_SEAL_USES_MAX;
    CU_ASSERT_EQUAL(cr_seal(&r, LABEL, NULL, 0, pt, sizeof(pt), blob, sizeof(blob), &bl),
                    CR_ERR_LIMIT);
    CU_ASSERT_EQUAL(cr_seal_ring_rotate(&r, 1), 0);
    CU_ASSERT_EQUAL(cr_seal(&r, LABEL, NULL, 0, pt, sizeof(pt), blob, sizeof(blob), &bl), 0);
    cr_seal_ring_wipe(&r);
}

static void test_rotation(void)
{
    struct cr_seal_ring r;
    uint8_t pt[40], blob[CR_SEAL_RING_MAX + 1][40 + CR_SEAL_OVERHEAD], back[40];
    size_t bl[CR_SEAL_RING_MAX + 1], pl;
    unsigned ki;
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_init(&r), 0);
    fill(pt, sizeof(pt), 3);
    for (unsigned i = 0; i <= CR_SEAL_RING_MAX; i++) {
        CU_ASSERT_EQUAL_FATAL(cr_seal_ring_rotate(&r, i), 0);
        CU_ASSERT_EQUAL(
            cr_seal(&r, LABEL, NULL, 0, pt, sizeof(pt), blob[i], sizeof(blob[i]), &bl[i]), 0);
    }
    CU_ASSERT_EQUAL(r.n, CR_SEAL_RING_MAX);
    /* blob i was sealed CR_SEAL_RING_MAX - i rotations ago */
    for (unsigned i = 0; i <= CR_SEAL_RING_MAX; i++) {
        ki = 99;
        int rc = cr_unseal(&r, LABEL, NULL, 0, blob[i], bl[i], back, sizeof(back), &pl, &ki);
        if (i == 0) {
            CU_ASSERT_EQUAL(rc, CR_ERR_AUTH); /* its key left the ring */
        } else {
            CU_ASSERT_EQUAL(rc, 0);
            CU_ASSERT_EQUAL(ki, CR_SEAL_RING_MAX - i);
        }
    }
    /* a copy opens the same blobs and seals on its own */
    struct cr_seal_ring c;
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_copy(&c, &r), 0);
    CU_ASSERT_EQUAL(cr_unseal(&c, LABEL, NULL, 0, blob[2], bl[2], back, sizeof(back), &pl, &ki), 0);
    cr_seal_ring_wipe(&r);
    uint8_t b2[40 + CR_SEAL_OVERHEAD];
    size_t l2;
    CU_ASSERT_EQUAL(cr_seal(&c, LABEL, NULL, 0, pt, sizeof(pt), b2, sizeof(b2), &l2), 0);
    cr_seal_ring_wipe(&c);
}

static int write_file(const char *path, const uint8_t *d, size_t n, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, d, n);
    if (fchmod(fd, mode) != 0)
        w = -1;
    close(fd);
    return w == (ssize_t)n ? 0 : -1;
}

/* Two gateways that load one key file open each other's blobs; bad files
 * are refused with a sentence and leave the ring as it was. */
static void test_key_file(void)
{
    char dir[] = "/tmp/test-seal-XXXXXX", path[64], err[256];
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/ticket.key", dir);
    uint8_t keys[CR_SEAL_RING_MAX * CR_SEAL_FILE_KEY_LEN + 1];
    fill(keys, sizeof(keys), 4);
    struct cr_seal_ring a, b;
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_init(&a), 0);
    CU_ASSERT_EQUAL_FATAL(cr_seal_ring_init(&b), 0);
    CU_ASSERT_EQUAL_FATAL(write_file(path, keys, 2 * CR_SEAL_FILE_KEY_LEN, 0600), 0);
    CU_ASSERT_EQUAL(cr_seal_ring_load(&a, path, 5, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(cr_seal_ring_load(&b, path, 6, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(a.n, 2);
    CU_ASSERT(memcmp(a.k[0].name, keys, CR_SEAL_NAME_LEN) == 0);
    CU_ASSERT(memcmp(a.k[1].key, keys + CR_SEAL_FILE_KEY_LEN + CR_SEAL_NAME_LEN, CR_SEAL_KEY_LEN) ==
              0);
    uint8_t pt[32], blob[32 + CR_SEAL_OVERHEAD], back[32];
    size_t bl, pl;
    unsigned ki;
    fill(pt, sizeof(pt), 5);
    CU_ASSERT_EQUAL(cr_seal(&a, LABEL, NULL, 0, pt, sizeof(pt), blob, sizeof(blob), &bl), 0);
    CU_ASSERT_EQUAL(cr_unseal(&b, LABEL, NULL, 0, blob, bl, back, sizeof(back), &pl, &ki), 0);
    CU_ASSERT(ki == 0 && memcmp(back, pt, sizeof(pt)) == 0);
    /* a loaded ring is not rotated at random (the instances would part) */
    CU_ASSERT_EQUAL(cr_seal_ring_rotate(&a, 7), CR_ERR_INVAL);
    /* the operator rotates by putting a new key first: old blobs still open, index 1 */
    uint8_t rot[3 * CR_SEAL_FILE_KEY_LEN];
    fill(rot, CR_SEAL_FILE_KEY_LEN, 9);
    memcpy(rot + CR_SEAL_FILE_KEY_LEN, keys, 2 * CR_SEAL_FILE_KEY_LEN);
    CU_ASSERT_EQUAL_FATAL(write_file(path, rot, sizeof(rot), 0400), 0);
    CU_ASSERT_EQUAL(cr_seal_ring_load(&b, path, 8, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(cr_unseal(&b, LABEL, NULL, 0, blob, bl, back, sizeof(back), &pl, &ki), 0);
    CU_ASSERT_EQUAL(ki, 1);

    const struct {
        size_t len;
        mode_t mode;
        int rc;
        const char *says;
    } bad[] = {
        {0, 0600, CR_ERR_DECODE, "0 bytes"},
        {CR_SEAL_FILE_KEY_LEN - 1, 0600, CR_ERR_DECODE, "47 bytes"},
        {CR_SEAL_FILE_KEY_LEN + 1, 0600, CR_ERR_DECODE, "49 bytes"},
        {CR_SEAL_RING_MAX * CR_SEAL_FILE_KEY_LEN + 1, 0600, CR_ERR_DECODE, "or more"},
        {CR_SEAL_FILE_KEY_LEN, 0640, CR_ERR_VERIFY, "chmod 600"},
        {CR_SEAL_FILE_KEY_LEN, 0604, CR_ERR_VERIFY, "chmod 600"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL_FATAL(write_file(path, keys, bad[i].len, bad[i].mode), 0);
        err[0] = '\0';
        int rc = cr_seal_ring_load(&a, path, 9, err, sizeof(err));
        printf("  %s\n", err);
        CU_ASSERT_EQUAL(rc, bad[i].rc);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].says));
        CU_ASSERT_EQUAL(a.n, 2); /* unchanged */
    }
    /* two keys with one name */
    uint8_t dup[2 * CR_SEAL_FILE_KEY_LEN];
    memcpy(dup, keys, CR_SEAL_FILE_KEY_LEN);
    memcpy(dup + CR_SEAL_FILE_KEY_LEN, keys, CR_SEAL_FILE_KEY_LEN);
    CU_ASSERT_EQUAL_FATAL(write_file(path, dup, sizeof(dup), 0600), 0);
    CU_ASSERT_EQUAL(cr_seal_ring_load(&a, path, 9, err, sizeof(err)), CR_ERR_DECODE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "same name"));
    /* missing file, a directory, a symlink */
    unlink(path);
    CU_ASSERT_EQUAL(cr_seal_ring_load(&a, path, 9, err, sizeof(err)), CR_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
    CU_ASSERT_EQUAL(cr_seal_ring_load(&a, dir, 9, err, sizeof(err)), CR_ERR_VERIFY);
    char link[80];
    snprintf(link, sizeof(link), "%s/link.key", dir);
    CU_ASSERT_EQUAL_FATAL(write_file(path, keys, CR_SEAL_FILE_KEY_LEN, 0600), 0);
    CU_ASSERT_EQUAL(symlink(path, link), 0);
    CU_ASSERT_EQUAL(cr_seal_ring_load(&a, link, 9, err, sizeof(err)), CR_ERR_IO);
    CU_ASSERT_EQUAL(a.n, 2);
    unlink(link);
    unlink(path);
    rmdir(dir);
    cr_seal_ring_wipe(&a);
    cr_seal_ring_wipe(&b);
}

void cu_register(void)
{
    CU_pSuite s = CU_add_suite("cr_seal", NULL, NULL);
    CU_add_test(s, "round trip, layout = AES-256-GCM", test_round_trip_and_layout);
    CU_add_test(s, "every altered bit, label, AAD, truncation refused",
                test_every_alteration_fails);
    CU_add_test(s, "rotation keeps the last keys", test_rotation);
    CU_add_test(s, "key file shared by two instances; bad files refused", test_key_file);
}
