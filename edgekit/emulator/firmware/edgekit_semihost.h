/*
 * edgekit_semihost.h -- minimal ARM semihosting client (written for edgekit).
 *
 * Every call traps with `bkpt 0xAB` (the M-profile semihosting instruction);
 * r0 carries the operation number, r1 a pointer to the argument block, and
 * the result comes back in r0.  See the "Semihosting for AArch32 and AArch64"
 * specification for the operation numbers used here.
 */
#ifndef EDGEKIT_SEMIHOST_H
#define EDGEKIT_SEMIHOST_H

#include <stdint.h>

#define EDGEKIT_SYS_OPEN          0x01
#define EDGEKIT_SYS_CLOSE         0x02
#define EDGEKIT_SYS_WRITEC        0x03
#define EDGEKIT_SYS_WRITE0        0x04
#define EDGEKIT_SYS_WRITE         0x05
#define EDGEKIT_SYS_READ          0x06
#define EDGEKIT_SYS_FLEN          0x0C
#define EDGEKIT_SYS_EXIT          0x18
#define EDGEKIT_SYS_EXIT_EXTENDED 0x20

#define EDGEKIT_ADP_STOPPED_APPLICATION_EXIT 0x20026

/* Raw semihosting trap. */
int32_t edgekit_sh_call(int32_t op, void *arg);

/* Open a host file; mode 1 is "rb".  Returns a handle, or -1. */
int32_t edgekit_sh_open(const char *path, int32_t mode);
int32_t edgekit_sh_close(int32_t handle);
/* Length of an open file in bytes, or -1. */
int32_t edgekit_sh_flen(int32_t handle);
/* Read len bytes; returns the number of bytes NOT read (0 on success). */
int32_t edgekit_sh_read(int32_t handle, void *buf, uint32_t len);
/* Write a NUL-terminated string to the debugger console (stdout). */
void edgekit_sh_write0(const char *s);
/* Terminate the emulator with an exit status (0 = success). */
void edgekit_sh_exit(int32_t code) __attribute__((noreturn));

#endif /* EDGEKIT_SEMIHOST_H */
