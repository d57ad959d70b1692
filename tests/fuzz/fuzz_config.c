/* fuzz_config.c — libFuzzer target for the YAML config parser
 * (control/gw_config.c: gw_config_load_string over the defaults, then
 * gw_config_validate).
 *
 * Input: the YAML text (cut at its first NUL, as a file with a NUL byte is
 * refused before parsing).
 * Checks, beyond "no crash / no sanitizer report":
 *   - an error returns a negative code with a message "fuzz.yaml:LINE: ..."
 *     (or "<defaults>:0: ..." from validation of a default) that is
 *     NUL-terminated inside the buffer;
 *   - a success leaves counts within their arrays and every string
 *     NUL-terminated within its field;
 *   - parsing the same text twice gives the same result (no hidden state).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ENSURE(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define FZ_ERR_LEN 512

static void check_str(const char *s, size_t cap)
{
    FUZZ_ENSURE(memchr(s, '\0', cap) != NULL);
}

static void check_err(int rc, const char *err)
{
    FUZZ_ENSURE(rc < 0);
    FUZZ_ENSURE(memchr(err, '\0', FZ_ERR_LEN) != NULL);
    FUZZ_ENSURE(strncmp(err, "fuzz.yaml:", 10) == 0 || strncmp(err, "<defaults>:", 11) == 0);
}

static void check_cfg(const struct gw_config *c)
{
    FUZZ_ENSURE(c->n_ports >= 1 && c->n_ports <= GW_MAX_PORTS);
    FUZZ_ENSURE(c->n_listeners >= 1 && c->n_listeners <= GW_MAX_LISTENERS);
    check_str(c->control_socket, sizeof(c->control_socket));
    for (unsigned i = 0; i < c->n_ports; i++)
        check_str(c->ports[i].name, sizeof(c->ports[i].name));
    for (unsigned i = 0; i < c->n_listeners; i++) {
        const struct gw_listener_cfg *l = &c->listeners[i];
        check_str(l->name, sizeof(l->name));
        check_str(l->cert_file, sizeof(l->cert_file));
        check_str(l->key_file, sizeof(l->key_file));
        check_str(l->psk_file, sizeof(l->psk_file));
        check_str(l->ca_file, sizeof(l->ca_file));
        FUZZ_ENSURE(l->nat_port_min <= l->nat_port_max);
        FUZZ_ENSURE(l->hs.n_suites <= HS_MAX_SUITES);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static struct gw_config a, b;
    char ea[FZ_ERR_LEN], eb[FZ_ERR_LEN];
    memset(ea, 0x55, sizeof(ea));
    gw_config_default(&a);
    gw_config_default(&b);
    int ra = gw_config_load_string(&a, text, "fuzz.yaml", ea, sizeof(ea));
    int rb = gw_config_load_string(&b, text, "fuzz.yaml", eb, sizeof(eb));
    FUZZ_ENSURE(ra == rb);
    if (ra < 0) {
        check_err(ra, ea);
        FUZZ_ENSURE(strcmp(ea, eb) == 0);
    } else {
        check_cfg(&a);
        int va = gw_config_validate(&a, ea, sizeof(ea));
        if (va < 0)
            check_err(va, ea);
        else
            check_cfg(&a);
        /* capture is refused on anonymous memory exactly when it is on */
        const struct gw_eal_facts nohuge = {NULL, "--no-huge", NULL};
        int ca = gw_config_check_capture(&a, &nohuge, ea, sizeof(ea));
        FUZZ_ENSURE((ca < 0) == a.capture);
        if (ca < 0)
            check_err(ca, ea);
    }
    free(text);
    return 0;
}
