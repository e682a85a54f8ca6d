/* SPDX-License-Identifier: Apache-2.0 */
/* libffi for the Node helper: the ABI default and the builtin ffi_type objects as plain functions. */
#ifndef NEMO_RELAY_CFFI_SHIM_H
#define NEMO_RELAY_CFFI_SHIM_H

#include <ffi.h>

static inline ffi_status nr_ffi_prep_cif(ffi_cif *cif, unsigned nargs, ffi_type *rtype, ffi_type **atypes) {
    return ffi_prep_cif(cif, FFI_DEFAULT_ABI, nargs, rtype, atypes);
}

static inline void nr_ffi_call(ffi_cif *cif, void *fn, void *rvalue, void **avalue) {
    ffi_call(cif, (void (*)(void))fn, rvalue, avalue);
}

typedef void (*nr_ffi_handler)(ffi_cif *, void *, void **, void *);

/* Allocates and prepares a closure; returns its executable address in *code, or NULL on failure. */
static inline ffi_closure *nr_ffi_closure_new(ffi_cif *cif, nr_ffi_handler fn, void *user, void **code) {
    ffi_closure *cl = (ffi_closure *)ffi_closure_alloc(sizeof(ffi_closure), code);
    if (!cl) return NULL;
    if (ffi_prep_closure_loc(cl, cif, fn, user, *code) != FFI_OK) {
        ffi_closure_free(cl);
        return NULL;
    }
    return cl;
}

static inline void nr_ffi_closure_free(ffi_closure *cl) { ffi_closure_free(cl); }

static inline ffi_type *nr_ffi_void(void) { return &ffi_type_void; }
static inline ffi_type *nr_ffi_u8(void) { return &ffi_type_uint8; }
static inline ffi_type *nr_ffi_u32(void) { return &ffi_type_uint32; }
static inline ffi_type *nr_ffi_s32(void) { return &ffi_type_sint32; }
static inline ffi_type *nr_ffi_u64(void) { return &ffi_type_uint64; }
static inline ffi_type *nr_ffi_s64(void) { return &ffi_type_sint64; }
static inline ffi_type *nr_ffi_ptr(void) { return &ffi_type_pointer; }

#endif
