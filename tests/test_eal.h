/* test_eal.h — the DPDK EAL set-up shared by the unit tests that need one:
 * no hugepages, no PCI, no shared config, one lcore, errors only.
 */
#ifndef DTLSGW_TEST_EAL_H
#define DTLSGW_TEST_EAL_H

#include <stdio.h>

#include <rte_common.h>
#include <rte_eal.h>

/* Initializes the EAL for test program `name` (also its file prefix) with
 * mem_mb MB of memory.  rte_eal_init's return value. */
static inline int test_eal_init(const char *name, unsigned mem_mb)
{
    char prefix[64], mem[16];
    snprintf(prefix, sizeof(prefix), "--file-prefix=%s", name);
    snprintf(mem, sizeof(mem), "%u", mem_mb);
    char *argv[] = {(char *)name, "--no-shconf", prefix, "--no-huge",         "--no-pci", "-m",
                    mem,          "-l",          "0",    "--log-level=error", NULL};
    return rte_eal_init((int)RTE_DIM(argv) - 1, argv);
}

#endif
