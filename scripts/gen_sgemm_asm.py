#!/usr/bin/env python3
"""Writes internal/kernels/sgemm_amd64.s: the sgemm microkernels.

Each kernel computes one MR x NR tile of C from packed panels (see
internal/kernels/sgemm.go): for p in [0, k), B's row p (NR floats, whole
vector registers) is loaded once, and each of A's MR values of column p is
broadcast and multiplied into its row of accumulators. The accumulators
then overwrite C's tile (load == 0) or are added to it.

    AVX-512: 14 x 32, 28 zmm accumulators, 2 for B, 2 broadcasts
    AVX2:     6 x 16, 12 ymm accumulators, 2 for B, 2 broadcasts

The Direct kernels read A unpacked, MR rows lda floats apart (A row-major,
alpha 1): for the im2col matrices of convolutions, packing A cost as much
as the kernel itself. The Trans kernels read a transposed A in place: its
column p, MR floats together, lda floats after column p-1 (the packed
layout with a wider stride). The Implicit kernel (AVX-512 12 x 32) reads
a convolution's input in place, its rows in groups of 4 with a jump at the
end of each row of the window: no im2col matrix.

Usage: python3 scripts/gen_sgemm_asm.py > internal/kernels/sgemm_amd64.s
"""


# Base registers of A's rows in the direct kernels: rows 3g to 3g+2 are
# at (base), (base)(R9*1), (base)(R9*2), R9 holding lda in bytes.
BASES = ["AX", "R10", "R11", "R12", "R13"]


def a_operand(i, direct, mr):
    if direct != "rows":
        return f"{4 * i}(AX)"
    base = BASES[i // 3]
    return [f"({base})", f"({base})(R9*1)", f"({base})(R9*2)"][i % 3]


def kernel(name, mr, nr, reg, width, zero, direct=False):
    vecs = nr // width  # registers per row of the tile
    out = []
    w = out.append
    bacc = mr * vecs  # first B register
    bc = bacc + vecs  # first broadcast register
    if direct:
        w(f"// func {name}(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, load int)")
        w(f"TEXT ·{name}(SB), NOSPLIT, $0-64")
        w("\tMOVQ k+0(FP), CX")
        w("\tMOVQ a+8(FP), AX")
        w("\tMOVQ lda+16(FP), R9")
        w("\tSHLQ $2, R9")
        w("\tMOVQ b+24(FP), BX")
        w("\tMOVQ c+40(FP), DI")
        w("\tMOVQ ldc+48(FP), DX")
        w("\tSHLQ $2, DX")
        w("\tMOVQ load+56(FP), R8")
        if direct == "rows":
            w("\tLEAQ (R9)(R9*2), SI")  # 3 rows in bytes
            for g in range(1, (mr + 2) // 3):
                w(f"\tLEAQ ({BASES[g - 1]})(SI*1), {BASES[g]}")
        w("\tMOVQ ldb+32(FP), SI")
    else:
        w(f"// func {name}(k int, a, b *float32, ldb int, c *float32, ldc int, load int)")
        w(f"TEXT ·{name}(SB), NOSPLIT, $0-56")
        w("\tMOVQ k+0(FP), CX")
        w("\tMOVQ a+8(FP), AX")
        w("\tMOVQ b+16(FP), BX")
        w("\tMOVQ ldb+24(FP), SI")
        w("\tMOVQ c+32(FP), DI")
        w("\tMOVQ ldc+40(FP), DX")
        w("\tSHLQ $2, DX")
        w("\tMOVQ load+48(FP), R8")
    w("\tSHLQ $2, SI")  # B's row stride in bytes
    for i in range(mr * vecs):
        w(f"\t{zero} {reg}{i}, {reg}{i}, {reg}{i}")
    w("\tTESTQ CX, CX")
    w(f"\tJEQ {name}_store")
    w(f"{name}_loop:")
    for v in range(vecs):
        w(f"\tVMOVUPS {4 * width * v}(BX), {reg}{bacc + v}")
    for i in range(mr):
        r = bc + i % 2
        w(f"\tVBROADCASTSS {a_operand(i, direct, mr)}, {reg}{r}")
        for v in range(vecs):
            w(f"\tVFMADD231PS {reg}{bacc + v}, {reg}{r}, {reg}{i * vecs + v}")
    if direct == "rows":
        for g in range((mr + 2) // 3):
            w(f"\tADDQ $4, {BASES[g]}")
    elif direct == "columns":
        w("\tADDQ R9, AX")
    else:
        w(f"\tADDQ ${4 * mr}, AX")
    w("\tADDQ SI, BX")
    w("\tDECQ CX")
    w(f"\tJNE {name}_loop")
    w(f"{name}_store:")
    w("\tTESTQ R8, R8")
    w(f"\tJEQ {name}_overwrite")
    for i in range(mr):
        for v in range(vecs):
            w(f"\tVADDPS {4 * width * v}(DI), {reg}{i * vecs + v}, {reg}{i * vecs + v}")
            w(f"\tVMOVUPS {reg}{i * vecs + v}, {4 * width * v}(DI)")
        w("\tADDQ DX, DI")
    w("\tVZEROUPPER")
    w("\tRET")
    w(f"{name}_overwrite:")
    for i in range(mr):
        for v in range(vecs):
            w(f"\tVMOVUPS {reg}{i * vecs + v}, {4 * width * v}(DI)")
        w("\tADDQ DX, DI")
    w("\tVZEROUPPER")
    w("\tRET")
    return "\n".join(out)


# The implicit kernel's groups: rows 4g to 4g+3 are at (base),
# (base)(R9*1), (base)(R9*2), (base)(R12*1), R9 holding lda and R12 3*lda
# in bytes.
GROUPS = ["AX", "R10", "R11"]


def implicit(name):
    """The 12x32 AVX-512 kernel of convolutions read in place (implicit
    GEMM, see internal/kernels/conv_implicit.go): A's 12 rows are 3 groups
    of 4, each group's rows lda floats apart from its own base; every seglen
    steps of k (the first segment: first steps) the bases jump by jump
    floats, to the next row of the convolution's window."""
    mr, vecs, width = 12, 2, 16
    out = []
    w = out.append
    w(f"// func {name}(k, first, seglen, jump int, a0, a1, a2 *float32, lda int, b *float32, ldb int, c *float32, ldc int, load int)")
    w(f"TEXT ·{name}(SB), NOSPLIT, $0-104")
    w("\tMOVQ k+0(FP), CX")
    w("\tMOVQ first+8(FP), R8")
    w("\tMOVQ jump+24(FP), R13")
    w("\tSHLQ $2, R13")
    w("\tMOVQ a0+32(FP), AX")
    w("\tMOVQ a1+40(FP), R10")
    w("\tMOVQ a2+48(FP), R11")
    w("\tMOVQ lda+56(FP), R9")
    w("\tSHLQ $2, R9")
    w("\tLEAQ (R9)(R9*2), R12")
    w("\tMOVQ b+64(FP), BX")
    w("\tMOVQ ldb+72(FP), SI")
    w("\tSHLQ $2, SI")
    for i in range(mr * vecs):
        w(f"\tVPXORD Z{i}, Z{i}, Z{i}")
    w("\tTESTQ CX, CX")
    w(f"\tJEQ {name}_store")
    w(f"{name}_loop:")
    bacc, bc = mr * vecs, mr * vecs + vecs
    for v in range(vecs):
        w(f"\tVMOVUPS {4 * width * v}(BX), Z{bacc + v}")
    for i in range(mr):
        base = GROUPS[i // 4]
        op = [f"({base})", f"({base})(R9*1)", f"({base})(R9*2)", f"({base})(R12*1)"][i % 4]
        r = bc + i % 2
        w(f"\tVBROADCASTSS {op}, Z{r}")
        for v in range(vecs):
            w(f"\tVFMADD231PS Z{bacc + v}, Z{r}, Z{i * vecs + v}")
    for g in GROUPS:
        w(f"\tADDQ $4, {g}")
    w("\tADDQ SI, BX")
    w("\tDECQ R8")
    w(f"\tJNE {name}_next")
    for g in GROUPS:
        w(f"\tADDQ R13, {g}")
    w("\tMOVQ seglen+16(FP), R8")
    w(f"{name}_next:")
    w("\tDECQ CX")
    w(f"\tJNE {name}_loop")
    w(f"{name}_store:")
    w("\tMOVQ c+80(FP), DI")
    w("\tMOVQ ldc+88(FP), DX")
    w("\tSHLQ $2, DX")
    w("\tMOVQ load+96(FP), R8")
    w("\tTESTQ R8, R8")
    w(f"\tJEQ {name}_overwrite")
    for i in range(mr):
        for v in range(vecs):
            w(f"\tVADDPS {4 * width * v}(DI), Z{i * vecs + v}, Z{i * vecs + v}")
            w(f"\tVMOVUPS Z{i * vecs + v}, {4 * width * v}(DI)")
        w("\tADDQ DX, DI")
    w("\tVZEROUPPER")
    w("\tRET")
    w(f"{name}_overwrite:")
    for i in range(mr):
        for v in range(vecs):
            w(f"\tVMOVUPS Z{i * vecs + v}, {4 * width * v}(DI)")
        w("\tADDQ DX, DI")
    w("\tVZEROUPPER")
    w("\tRET")
    return "\n".join(out)


print("// Code generated by scripts/gen_sgemm_asm.py; DO NOT EDIT.\n")
print("//go:build !capa_noasm\n")
print('#include "textflag.h"\n')
print(kernel("sgemm14x32AVX512", 14, 32, "Z", 16, "VPXORD"))
print()
print(kernel("sgemm6x16AVX2", 6, 16, "Y", 8, "VXORPS"))
print()
print(kernel("sgemm14x32DirectAVX512", 14, 32, "Z", 16, "VPXORD", direct="rows"))
print()
print(kernel("sgemm6x16DirectAVX2", 6, 16, "Y", 8, "VXORPS", direct="rows"))
print()
print(kernel("sgemm14x32TransAVX512", 14, 32, "Z", 16, "VPXORD", direct="columns"))
print()
print(kernel("sgemm6x16TransAVX2", 6, 16, "Y", 8, "VXORPS", direct="columns"))
print()
print(implicit("sgemm12x32ImplicitAVX512"))
