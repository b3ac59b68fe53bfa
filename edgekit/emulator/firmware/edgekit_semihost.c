/*
 * edgekit_semihost.c -- semihosting calls via `bkpt 0xAB` (see header).
 */
#include "edgekit_semihost.h"

static uint32_t edgekit_strlen(const char *s)
{
    uint32_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}

int32_t edgekit_sh_call(int32_t op, void *arg)
{
    register int32_t r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

int32_t edgekit_sh_open(const char *path, int32_t mode)
{
    uint32_t block[3];
    block[0] = (uint32_t)(uintptr_t)path;
    block[1] = (uint32_t)mode;
    block[2] = edgekit_strlen(path);
    return edgekit_sh_call(EDGEKIT_SYS_OPEN, block);
}

int32_t edgekit_sh_close(int32_t handle)
{
    uint32_t block[1];
    block[0] = (uint32_t)handle;
    return edgekit_sh_call(EDGEKIT_SYS_CLOSE, block);
}

int32_t edgekit_sh_flen(int32_t handle)
{
    uint32_t block[1];
    block[0] = (uint32_t)handle;
    return edgekit_sh_call(EDGEKIT_SYS_FLEN, block);
}

int32_t edgekit_sh_read(int32_t handle, void *buf, uint32_t len)
{
    uint32_t block[3];
    block[0] = (uint32_t)handle;
    block[1] = (uint32_t)(uintptr_t)buf;
    block[2] = len;
    return edgekit_sh_call(EDGEKIT_SYS_READ, block);
}

void edgekit_sh_write0(const char *s)
{
    (void)edgekit_sh_call(EDGEKIT_SYS_WRITE0, (void *)(uintptr_t)s);
}

void edgekit_sh_exit(int32_t code)
{
    uint32_t block[2];
    block[0] = EDGEKIT_ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)code;
    /* SYS_EXIT_EXTENDED carries the status on AArch32 (semihosting v2). */
    (void)edgekit_sh_call(EDGEKIT_SYS_EXIT_EXTENDED, block);
    /* Fallback for hosts without SYS_EXIT_EXTENDED: plain SYS_EXIT can only
     * say "success" or "not success". */
    (void)edgekit_sh_call(EDGEKIT_SYS_EXIT,
                          (void *)(uintptr_t)(code == 0
                                                  ? EDGEKIT_ADP_STOPPED_APPLICATION_EXIT
                                                  : 0x20023 /* RunTimeErrorUnknown */));
    for (;;) {
    }
}
