//go:build !capa_noasm

#include "textflag.h"

// AVX2 inner loops of the elementwise, bias and 2x2 max pooling kernels;
// see simd_amd64.go. Each function ends with VZEROUPPER. Lengths arrive in
// elements and are turned into byte offsets. Y15 holds zeros throughout.
//
// Operand order is Go's (reversed from Intel's): VBLENDVPS mask, a, b, dst
// sets dst = mask<0 ? a : b; VCMPPS $p, a, b, dst compares b p a;
// VPCMPGTD a, b, dst sets dst = b > a (signed int32); VPANDN a, b, dst sets
// dst = ^b & a; VADDPS a, b, dst sets dst = b + a.

// RELU8 clears to +0 the 8 floats of R whose sign bit is set (negative,
// -0, NaN with the sign bit): BLENDV selects on the sign bit, exactly the
// pure-Go b &^ (int32(b) >> 31).
#define RELU8(R) VBLENDVPS R, Y15, R, R

// func reluAVX2(dst, x *float32, n int)
TEXT ·reluAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHLQ $2, CX
	MOVQ CX, DX
	ANDQ $-128, DX
	XORQ AX, AX
	VXORPS Y15, Y15, Y15
	TESTQ DX, DX
	JZ relu8

relu32:
	VMOVUPS (SI)(AX*1), Y0
	VMOVUPS 32(SI)(AX*1), Y1
	VMOVUPS 64(SI)(AX*1), Y2
	VMOVUPS 96(SI)(AX*1), Y3
	RELU8(Y0)
	RELU8(Y1)
	RELU8(Y2)
	RELU8(Y3)
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	VMOVUPS Y2, 64(DI)(AX*1)
	VMOVUPS Y3, 96(DI)(AX*1)
	ADDQ $128, AX
	CMPQ AX, DX
	JB relu32

relu8:
	CMPQ AX, CX
	JAE reludone
	VMOVUPS (SI)(AX*1), Y0
	RELU8(Y0)
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP relu8

reludone:
	VZEROUPPER
	RET

// RELUGRAD8(off, R): dx = dy where y > 0 (as an int32: sign clear and not
// +0, so +NaN passes dy and -0 does not), else +0.
#define RELUGRAD8(off, R) \
	VMOVUPS off(SI)(AX*1), R \
	VPCMPGTD Y15, R, R \
	VPAND off(DX)(AX*1), R, R \
	VMOVUPS R, off(DI)(AX*1)

// func reluBackwardAVX2(dx, y, dy *float32, n int)
TEXT ·reluBackwardAVX2(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ y+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ n+24(FP), CX
	SHLQ $2, CX
	MOVQ CX, BX
	ANDQ $-128, BX
	XORQ AX, AX
	VPXOR Y15, Y15, Y15
	TESTQ BX, BX
	JZ grad8

grad32:
	RELUGRAD8(0, Y0)
	RELUGRAD8(32, Y1)
	RELUGRAD8(64, Y2)
	RELUGRAD8(96, Y3)
	ADDQ $128, AX
	CMPQ AX, BX
	JB grad32

grad8:
	CMPQ AX, CX
	JAE graddone
	RELUGRAD8(0, Y0)
	ADDQ $32, AX
	JMP grad8

graddone:
	VZEROUPPER
	RET

// The bias kernels walk rows (SI, DI advance by the stride R8 in bytes),
// and within each row the columns [0, CX bytes) 32 then 8 floats at a time
// (R9 = CX rounded down to 128 bytes); AX is the byte offset in the row.

#define BIASADD8(off, R) \
	VMOVUPS off(SI)(AX*1), R \
	VADDPS off(DX)(AX*1), R, R \
	VMOVUPS R, off(DI)(AX*1)

// func biasAddAVX2(dst, x, bias *float32, rows, cols, stride int)
TEXT ·biasAddAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ bias+16(FP), DX
	MOVQ rows+24(FP), BX
	MOVQ cols+32(FP), CX
	MOVQ stride+40(FP), R8
	SHLQ $2, CX
	SHLQ $2, R8
	MOVQ CX, R9
	ANDQ $-128, R9
	TESTQ BX, BX
	JZ adddone

addrow:
	XORQ AX, AX
	TESTQ R9, R9
	JZ add8

add32:
	BIASADD8(0, Y0)
	BIASADD8(32, Y1)
	BIASADD8(64, Y2)
	BIASADD8(96, Y3)
	ADDQ $128, AX
	CMPQ AX, R9
	JB add32

add8:
	CMPQ AX, CX
	JAE addnext
	BIASADD8(0, Y0)
	ADDQ $32, AX
	JMP add8

addnext:
	ADDQ R8, SI
	ADDQ R8, DI
	DECQ BX
	JNZ addrow

adddone:
	VZEROUPPER
	RET

// BIASRELU8: x + bias (x the first operand, as the Go loop's s[j] + b),
// then RELU8.
#define BIASRELU8(off, R) \
	VMOVUPS off(SI)(AX*1), R \
	VADDPS off(DX)(AX*1), R, R \
	RELU8(R) \
	VMOVUPS R, off(DI)(AX*1)

// func biasReluAVX2(dst, x, bias *float32, rows, cols, stride int)
TEXT ·biasReluAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ bias+16(FP), DX
	MOVQ rows+24(FP), BX
	MOVQ cols+32(FP), CX
	MOVQ stride+40(FP), R8
	SHLQ $2, CX
	SHLQ $2, R8
	MOVQ CX, R9
	ANDQ $-128, R9
	VXORPS Y15, Y15, Y15
	TESTQ BX, BX
	JZ brdone

brrow:
	XORQ AX, AX
	TESTQ R9, R9
	JZ br8

br32:
	BIASRELU8(0, Y0)
	BIASRELU8(32, Y1)
	BIASRELU8(64, Y2)
	BIASRELU8(96, Y3)
	ADDQ $128, AX
	CMPQ AX, R9
	JB br32

br8:
	CMPQ AX, CX
	JAE brnext
	BIASRELU8(0, Y0)
	ADDQ $32, AX
	JMP br8

brnext:
	ADDQ R8, SI
	ADDQ R8, DI
	DECQ BX
	JNZ brrow

brdone:
	VZEROUPPER
	RET

// BIASGRAD8: buf += dy (buf the first operand, as the Go loop's buf[j] += v).
// buf (DI) does not advance with the rows.
#define BIASGRAD8(off, R) \
	VMOVUPS off(DI)(AX*1), R \
	VADDPS off(SI)(AX*1), R, R \
	VMOVUPS R, off(DI)(AX*1)

// func biasGradAVX2(buf, dy *float32, rows, cols, stride int)
TEXT ·biasGradAVX2(SB), NOSPLIT, $0-40
	MOVQ buf+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ rows+16(FP), BX
	MOVQ cols+24(FP), CX
	MOVQ stride+32(FP), R8
	SHLQ $2, CX
	SHLQ $2, R8
	MOVQ CX, R9
	ANDQ $-128, R9
	TESTQ BX, BX
	JZ bgdone

bgrow:
	XORQ AX, AX
	TESTQ R9, R9
	JZ bg8

bg32:
	BIASGRAD8(0, Y0)
	BIASGRAD8(32, Y1)
	BIASGRAD8(64, Y2)
	BIASGRAD8(96, Y3)
	ADDQ $128, AX
	CMPQ AX, R9
	JB bg32

bg8:
	CMPQ AX, CX
	JAE bgnext
	BIASGRAD8(0, Y0)
	ADDQ $32, AX
	JMP bg8

bgnext:
	ADDQ R8, SI
	DECQ BX
	JNZ bgrow

bgdone:
	VZEROUPPER
	RET

// BRGRAD8(off, R, T): g = dy where y > 0 else +0 (RELUGRAD8's mask), dx = g,
// buf = buf + g. y at SI, dy at DX, dx at DI, buf at R10.
#define BRGRAD8(off, R, T) \
	VMOVUPS off(SI)(AX*1), R \
	VPCMPGTD Y15, R, R \
	VPAND off(DX)(AX*1), R, R \
	VMOVUPS R, off(DI)(AX*1) \
	VMOVUPS off(R10)(AX*1), T \
	VADDPS R, T, T \
	VMOVUPS T, off(R10)(AX*1)

// func biasReluBackwardAVX2(dx, buf, y, dy *float32, rows, cols, stride int)
TEXT ·biasReluBackwardAVX2(SB), NOSPLIT, $0-56
	MOVQ dx+0(FP), DI
	MOVQ buf+8(FP), R10
	MOVQ y+16(FP), SI
	MOVQ dy+24(FP), DX
	MOVQ rows+32(FP), BX
	MOVQ cols+40(FP), CX
	MOVQ stride+48(FP), R8
	SHLQ $2, CX
	SHLQ $2, R8
	MOVQ CX, R9
	ANDQ $-128, R9
	VPXOR Y15, Y15, Y15
	TESTQ BX, BX
	JZ bbdone

bbrow:
	XORQ AX, AX
	TESTQ R9, R9
	JZ bb8

bb32:
	BRGRAD8(0, Y0, Y4)
	BRGRAD8(32, Y1, Y5)
	BRGRAD8(64, Y2, Y6)
	BRGRAD8(96, Y3, Y7)
	ADDQ $128, AX
	CMPQ AX, R9
	JB bb32

bb8:
	CMPQ AX, CX
	JAE bbnext
	BRGRAD8(0, Y0, Y4)
	ADDQ $32, AX
	JMP bb8

bbnext:
	ADDQ R8, SI
	ADDQ R8, DX
	ADDQ R8, DI
	DECQ BX
	JNZ bbrow

bbdone:
	VZEROUPPER
	RET

DATA iota<>+0(SB)/4, $0
DATA iota<>+4(SB)/4, $1
DATA iota<>+8(SB)/4, $2
DATA iota<>+12(SB)/4, $3
DATA iota<>+16(SB)/4, $4
DATA iota<>+20(SB)/4, $5
DATA iota<>+24(SB)/4, $6
DATA iota<>+28(SB)/4, $7
GLOBL iota<>(SB), RODATA|NOPTR, $32

// STEP(W, OFF): the window's next cell W replaces the best so far (Y0) if
// W > best (ordered: false if either is NaN, and -0 > +0 is false), so the
// first strict maximum in window order wins; the winner's offset from the
// top-left cell (Y6) follows from OFF.
#define STEP(W, OFF) \
	VCMPPS $0x1e, Y0, W, Y4 \
	VBLENDVPS Y4, W, Y0, Y0 \
	VBLENDVPS Y4, OFF, Y6, Y6

// func maxPool2x2AVX2(dst *float32, argmax *int32, x *float32, i00, ow, c, c8, rowStride int)
//
// Registers: DI dst, SI argmax, DX/R12/R11/R13 the cells 00/01/10/11 of the
// current window, BX pixels left, CX c in bytes, R8 c8 in bytes, R9 2c in
// bytes, R10 the index of cell 00, AX the byte offset of the channel
// chunk. Y5 the indices of cell 00's 8 channels, Y7 0..7, Y8 c, Y9
// rowStride, Y10 rowStride+c, Y11 zero, Y12 8.
TEXT ·maxPool2x2AVX2(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ argmax+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ i00+24(FP), R10
	MOVQ ow+32(FP), BX
	MOVQ c+40(FP), CX
	MOVQ c8+48(FP), R8
	MOVQ rowStride+56(FP), R9

	VMOVDQU iota<>(SB), Y7
	VPXOR Y11, Y11, Y11
	VMOVD CX, X8
	VPBROADCASTD X8, Y8
	VMOVD R9, X9
	VPBROADCASTD X9, Y9
	VPADDD Y8, Y9, Y10
	MOVL $8, AX
	VMOVD AX, X12
	VPBROADCASTD X12, Y12

	SHLQ $2, CX
	SHLQ $2, R8
	SHLQ $2, R9
	LEAQ (DX)(CX*1), R12
	LEAQ (DX)(R9*1), R11
	LEAQ (R11)(CX*1), R13
	LEAQ (CX)(CX*1), R9
	TESTQ BX, BX
	JZ pooldone

poolpix:
	VMOVD R10, X5
	VPBROADCASTD X5, Y5
	VPADDD Y7, Y5, Y5
	XORQ AX, AX

poolchunk:
	VMOVUPS (DX)(AX*1), Y0
	VMOVUPS (R12)(AX*1), Y1
	VMOVUPS (R11)(AX*1), Y2
	VMOVUPS (R13)(AX*1), Y3
	VCMPPS $0x1e, Y0, Y1, Y4
	VBLENDVPS Y4, Y1, Y0, Y0
	VBLENDVPS Y4, Y8, Y11, Y6
	STEP(Y2, Y9)
	STEP(Y3, Y10)
	VPADDD Y5, Y6, Y6
	VMOVUPS Y0, (DI)(AX*1)
	VMOVDQU Y6, (SI)(AX*1)
	VPADDD Y12, Y5, Y5
	ADDQ $32, AX
	CMPQ AX, R8
	JB poolchunk

	ADDQ CX, DI
	ADDQ CX, SI
	ADDQ R9, DX
	ADDQ R9, R12
	ADDQ R9, R11
	ADDQ R9, R13
	MOVQ R9, AX
	SHRQ $2, AX
	ADDQ AX, R10
	DECQ BX
	JNZ poolpix

pooldone:
	VZEROUPPER
	RET

// Column sums with the accumulators in registers (Y0..Y7) rather than in
// buf: for a block of 32 or 64 columns, each row's values are added in the
// same order as by the Go loop (buf first, then row after row), without a
// store-to-load round trip per row. SI walks the rows of dy (or y), by R8
// bytes.

#define ACC4LOAD(P) VMOVUPS 0(P), Y0; VMOVUPS 32(P), Y1; VMOVUPS 64(P), Y2; VMOVUPS 96(P), Y3
#define ACC4STORE(P) VMOVUPS Y0, 0(P); VMOVUPS Y1, 32(P); VMOVUPS Y2, 64(P); VMOVUPS Y3, 96(P)
#define ACC8LOAD(P) ACC4LOAD(P); VMOVUPS 128(P), Y4; VMOVUPS 160(P), Y5; VMOVUPS 192(P), Y6; VMOVUPS 224(P), Y7
#define ACC8STORE(P) ACC4STORE(P); VMOVUPS Y4, 128(P); VMOVUPS Y5, 160(P); VMOVUPS Y6, 192(P); VMOVUPS Y7, 224(P)

// func biasGrad32AVX2(buf, dy *float32, rows, stride int)
TEXT ·biasGrad32AVX2(SB), NOSPLIT, $0-32
	MOVQ buf+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ rows+16(FP), BX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	ACC4LOAD(DI)
	TESTQ BX, BX
	JZ g32done

g32row:
	VADDPS 0(SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	ADDQ R8, SI
	DECQ BX
	JNZ g32row

g32done:
	ACC4STORE(DI)
	VZEROUPPER
	RET

// func biasGrad64AVX2(buf, dy *float32, rows, stride int)
TEXT ·biasGrad64AVX2(SB), NOSPLIT, $0-32
	MOVQ buf+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ rows+16(FP), BX
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	ACC8LOAD(DI)
	TESTQ BX, BX
	JZ g64done

g64row:
	VADDPS 0(SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	VADDPS 128(SI), Y4, Y4
	VADDPS 160(SI), Y5, Y5
	VADDPS 192(SI), Y6, Y6
	VADDPS 224(SI), Y7, Y7
	ADDQ R8, SI
	DECQ BX
	JNZ g64row

g64done:
	ACC8STORE(DI)
	VZEROUPPER
	RET

// BRACC(off, T, A): T = dy where y > 0 else +0, stored to dx, A = A + T.
// y at SI, dy at DX, dx at DI.
#define BRACC(off, T, A) \
	VMOVUPS off(SI), T \
	VPCMPGTD Y15, T, T \
	VPAND off(DX), T, T \
	VMOVUPS T, off(DI) \
	VADDPS T, A, A

// func biasReluBackward32AVX2(dx, buf, y, dy *float32, rows, stride int)
TEXT ·biasReluBackward32AVX2(SB), NOSPLIT, $0-48
	MOVQ dx+0(FP), DI
	MOVQ buf+8(FP), R10
	MOVQ y+16(FP), SI
	MOVQ dy+24(FP), DX
	MOVQ rows+32(FP), BX
	MOVQ stride+40(FP), R8
	SHLQ $2, R8
	VPXOR Y15, Y15, Y15
	ACC4LOAD(R10)
	TESTQ BX, BX
	JZ b32done

b32row:
	BRACC(0, Y8, Y0)
	BRACC(32, Y9, Y1)
	BRACC(64, Y10, Y2)
	BRACC(96, Y11, Y3)
	ADDQ R8, SI
	ADDQ R8, DX
	ADDQ R8, DI
	DECQ BX
	JNZ b32row

b32done:
	ACC4STORE(R10)
	VZEROUPPER
	RET

// func biasReluBackward64AVX2(dx, buf, y, dy *float32, rows, stride int)
TEXT ·biasReluBackward64AVX2(SB), NOSPLIT, $0-48
	MOVQ dx+0(FP), DI
	MOVQ buf+8(FP), R10
	MOVQ y+16(FP), SI
	MOVQ dy+24(FP), DX
	MOVQ rows+32(FP), BX
	MOVQ stride+40(FP), R8
	SHLQ $2, R8
	VPXOR Y15, Y15, Y15
	ACC8LOAD(R10)
	TESTQ BX, BX
	JZ b64done

b64row:
	BRACC(0, Y8, Y0)
	BRACC(32, Y9, Y1)
	BRACC(64, Y10, Y2)
	BRACC(96, Y11, Y3)
	BRACC(128, Y12, Y4)
	BRACC(160, Y13, Y5)
	BRACC(192, Y14, Y6)
	BRACC(224, Y8, Y7)
	ADDQ R8, SI
	ADDQ R8, DX
	ADDQ R8, DI
	DECQ BX
	JNZ b64row

b64done:
	ACC8STORE(R10)
	VZEROUPPER
	RET

// ---- Winograd F(2x2, 3x3) transforms (winograd.go, winograd_amd64.go) ----
//
// Each computes exactly the operations of its Go loop, in the same order,
// eight channels (or filters) at a time. Addresses use a row base register
// and a column index register (0, R8, R9 or R10: 1, 2 or 3 columns).

// WFILTCOL(j, Ra, Rb, Rc, Rd) transforms column j of the 3x3 window into
// rows 0-3 of A = G g: Ra = g0j, Rd = g2j, Rb = (g0j+g1j+g2j)*½,
// Rc = (g0j-g1j+g2j)*½ (Y12 scratch, Y15 = ½). The window's rows start at
// SI, R11 and R12; COL is the column's index register expression.
#define WFILTCOL(COL0, COL1, COL2, Ra, Rb, Rc, Rd) \
	VMOVUPS COL0, Ra \
	VMOVUPS COL2, Rd \
	VMOVUPS COL1, Y12 \
	VADDPS Y12, Ra, Rb \
	VADDPS Rd, Rb, Rb \
	VMULPS Y15, Rb, Rb \
	VSUBPS Y12, Ra, Rc \
	VADDPS Rd, Rc, Rc \
	VMULPS Y15, Rc, Rc

// WFILTROW(a0, a1, a2, D) stores row (a0, a1, a2) of A times Gᵀ at the four
// columns of base D: a0, (a0+a1+a2)*½, (a0-a1+a2)*½, a2.
#define WFILTROW(a0, a1, a2, D) \
	VMOVUPS a0, (D) \
	VADDPS a1, a0, Y12 \
	VADDPS a2, Y12, Y12 \
	VMULPS Y15, Y12, Y12 \
	VMOVUPS Y12, (D)(R8*1) \
	VSUBPS a1, a0, Y13 \
	VADDPS a2, Y13, Y13 \
	VMULPS Y15, Y13, Y13 \
	VMOVUPS Y13, (D)(R9*1) \
	VMOVUPS a2, (D)(R10*1)

// func winoFilterAVX2(u, w *float32, n, ck int)
TEXT ·winoFilterAVX2(SB), NOSPLIT, $0-32
	MOVQ u+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ ck+24(FP), R8
	SHLQ $2, R8              // one plane, bytes
	LEAQ (R8)(R8*1), R9      // two planes
	LEAQ (R9)(R8*1), R10     // three planes
	LEAQ (SI)(R10*1), R11    // g row 1 (planes 3-5)
	LEAQ (R11)(R10*1), R12   // g row 2 (planes 6-8)
	LEAQ (DI)(R8*4), AX      // u row 1 (planes 4-7)
	LEAQ (DI)(R8*8), BX      // u row 2 (planes 8-11)
	LEAQ (DI)(R10*4), DX     // u row 3 (planes 12-15)
	MOVL $0x3f000000, R13
	MOVQ R13, X15
	VBROADCASTSS X15, Y15    // ½

wfloop:
	// A = G g: column j of A in Y(j), Y(3+j), Y(6+j), Y(9+j).
	WFILTCOL((SI), (R11), (R12), Y0, Y3, Y6, Y9)
	WFILTCOL((SI)(R8*1), (R11)(R8*1), (R12)(R8*1), Y1, Y4, Y7, Y10)
	WFILTCOL((SI)(R9*1), (R11)(R9*1), (R12)(R9*1), Y2, Y5, Y8, Y11)
	WFILTROW(Y0, Y1, Y2, DI)
	WFILTROW(Y3, Y4, Y5, AX)
	WFILTROW(Y6, Y7, Y8, BX)
	WFILTROW(Y9, Y10, Y11, DX)
	ADDQ $32, SI
	ADDQ $32, R11
	ADDQ $32, R12
	ADDQ $32, DI
	ADDQ $32, AX
	ADDQ $32, BX
	ADDQ $32, DX
	SUBQ $8, CX
	JNZ wfloop
	VZEROUPPER
	RET

// WINROW(t0, t1, t2, t3, D) stores row (t0, t1, t2, t3) of Bᵀ d times B
// at the four columns of base D: t0-t2, t1+t2, t2-t1, t1-t3 (via Y8-Y11).
#define WINROW(t0, t1, t2, t3, D) \
	VSUBPS t2, t0, Y8 \
	VADDPS t2, t1, Y9 \
	VSUBPS t1, t2, Y10 \
	VSUBPS t3, t1, Y11 \
	VMOVUPS Y8, (D) \
	VMOVUPS Y9, (D)(R8*1) \
	VMOVUPS Y10, (D)(R9*1) \
	VMOVUPS Y11, (D)(R10*1)

// WINDIFF(COLa, COLb, R): R = a - b (rows 0 and 3 of Bᵀ d).
#define WINDIFF(COLa, COLb, R) \
	VMOVUPS COLa, R \
	VSUBPS COLb, R, R

// WINMID(COL1, COL2, Ra, Rb): Ra = d1 + d2, Rb = d2 - d1 (rows 1 and 2),
// via Y12 and Y13.
#define WINMID(COL1, COL2, Ra, Rb) \
	VMOVUPS COL1, Y12 \
	VMOVUPS COL2, Y13 \
	VADDPS Y13, Y12, Ra \
	VSUBPS Y12, Y13, Rb

// func winoInputAVX2(dst, src *float32, tiles, c8, c, rs, srcAdj, dstAdj int)
TEXT ·winoInputAVX2(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ tiles+16(FP), R14
	MOVQ c+32(FP), R8
	SHLQ $2, R8              // one pixel (or one ξ), bytes
	LEAQ (R8)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	MOVQ rs+40(FP), CX
	SHLQ $2, CX              // one row, bytes
	LEAQ (SI)(CX*1), R11     // src rows 1-3
	LEAQ (R11)(CX*1), R12
	LEAQ (R12)(CX*1), R13
	LEAQ (DI)(R8*4), AX      // dst ξ 4-7
	LEAQ (DI)(R8*8), BX      // dst ξ 8-11
	LEAQ (DI)(R10*4), DX     // dst ξ 12-15

witile:
	MOVQ c8+24(FP), CX

wich:
	// Row 0 of Bᵀ d: d0 - d2.
	WINDIFF((SI), (R12), Y0)
	WINDIFF((SI)(R8*1), (R12)(R8*1), Y1)
	WINDIFF((SI)(R9*1), (R12)(R9*1), Y2)
	WINDIFF((SI)(R10*1), (R12)(R10*1), Y3)
	WINROW(Y0, Y1, Y2, Y3, DI)
	// Rows 1 and 2: d1 + d2 and d2 - d1.
	WINMID((R11), (R12), Y0, Y4)
	WINMID((R11)(R8*1), (R12)(R8*1), Y1, Y5)
	WINMID((R11)(R9*1), (R12)(R9*1), Y2, Y6)
	WINMID((R11)(R10*1), (R12)(R10*1), Y3, Y7)
	WINROW(Y0, Y1, Y2, Y3, AX)
	WINROW(Y4, Y5, Y6, Y7, BX)
	// Row 3: d1 - d3.
	WINDIFF((R11), (R13), Y0)
	WINDIFF((R11)(R8*1), (R13)(R8*1), Y1)
	WINDIFF((R11)(R9*1), (R13)(R9*1), Y2)
	WINDIFF((R11)(R10*1), (R13)(R10*1), Y3)
	WINROW(Y0, Y1, Y2, Y3, DX)
	ADDQ $32, SI
	ADDQ $32, R11
	ADDQ $32, R12
	ADDQ $32, R13
	ADDQ $32, DI
	ADDQ $32, AX
	ADDQ $32, BX
	ADDQ $32, DX
	SUBQ $8, CX
	JNZ wich

	MOVQ srcAdj+48(FP), CX
	ADDQ CX, SI
	ADDQ CX, R11
	ADDQ CX, R12
	ADDQ CX, R13
	MOVQ dstAdj+56(FP), CX
	ADDQ CX, DI
	ADDQ CX, AX
	ADDQ CX, BX
	ADDQ CX, DX
	DECQ R14
	JNZ witile
	VZEROUPPER
	RET

// WOUTCOL(COL, Ra, Rb): column j of Aᵀ m: Ra = m0 + m1 + m2,
// Rb = m1 - m2 - m3, from the rows at SI, R11, R12, R13 (via Y8 and Y9).
#define WOUTCOL(COL0, COL1, COL2, COL3, Ra, Rb) \
	VMOVUPS COL1, Y8 \
	VMOVUPS COL2, Y9 \
	VADDPS COL0, Y8, Ra \
	VADDPS Y9, Ra, Ra \
	VSUBPS Y9, Y8, Rb \
	VSUBPS COL3, Rb, Rb

// WOUTROW(s0, s1, s2, s3, D): stores (s0+s1+s2, s1-s2-s3) at D and
// (D)(R8*1), via Y10 and Y11.
#define WOUTROW(s0, s1, s2, s3, D) \
	VADDPS s1, s0, Y10 \
	VADDPS s2, Y10, Y10 \
	VSUBPS s2, s1, Y11 \
	VSUBPS s3, Y11, Y11 \
	VMOVUPS Y10, (D) \
	VMOVUPS Y11, (D)(R8*1)

// func winoOutputAVX2(dst, src *float32, tiles, f8, f, rs, srcAdj, dstAdj int)
TEXT ·winoOutputAVX2(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ tiles+16(FP), R14
	MOVQ f+32(FP), R8
	SHLQ $2, R8              // one ξ (or one output pixel), bytes
	LEAQ (R8)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	LEAQ (SI)(R8*4), R11     // src ξ 4-7
	LEAQ (SI)(R8*8), R12     // src ξ 8-11
	LEAQ (SI)(R10*4), R13    // src ξ 12-15
	MOVQ rs+40(FP), CX
	SHLQ $2, CX
	LEAQ (DI)(CX*1), AX      // dst row 1

wotile:
	MOVQ f8+24(FP), CX

woch:
	WOUTCOL((SI), (R11), (R12), (R13), Y0, Y4)
	WOUTCOL((SI)(R8*1), (R11)(R8*1), (R12)(R8*1), (R13)(R8*1), Y1, Y5)
	WOUTCOL((SI)(R9*1), (R11)(R9*1), (R12)(R9*1), (R13)(R9*1), Y2, Y6)
	WOUTCOL((SI)(R10*1), (R11)(R10*1), (R12)(R10*1), (R13)(R10*1), Y3, Y7)
	WOUTROW(Y0, Y1, Y2, Y3, DI)
	WOUTROW(Y4, Y5, Y6, Y7, AX)
	ADDQ $32, SI
	ADDQ $32, R11
	ADDQ $32, R12
	ADDQ $32, R13
	ADDQ $32, DI
	ADDQ $32, AX
	SUBQ $8, CX
	JNZ woch

	MOVQ srcAdj+48(FP), CX
	ADDQ CX, SI
	ADDQ CX, R11
	ADDQ CX, R12
	ADDQ CX, R13
	MOVQ dstAdj+56(FP), CX
	ADDQ CX, DI
	ADDQ CX, AX
	DECQ R14
	JNZ wotile
	VZEROUPPER
	RET

// F(4x4, 3x3) transforms (winograd_amd64.go): the 1-D transforms of
// wino4In and wino4Out on eight channels (or filters) at a time, applied
// to the columns of a tile into tmp, then to the rows of tmp. Y12, Y13 and
// Y14 hold 4, 2 and 8 in every lane.

// W4IN(d0, d1, d2, d3, d4, d5 loaded in Y0-Y5; S0..S5 stores): wino4In.
#define W4IN(S0, S1, S2, S3, S4, S5) \
	VSUBPS Y2, Y0, Y6 \
	VSUBPS Y2, Y4, Y7 \
	VMULPS Y12, Y6, Y6 \
	VADDPS Y7, Y6, Y6 \
	VMOVUPS Y6, S0 \
	VMULPS Y12, Y2, Y8 \
	VSUBPS Y8, Y4, Y8 \
	VMULPS Y12, Y1, Y9 \
	VSUBPS Y9, Y3, Y9 \
	VADDPS Y9, Y8, Y10 \
	VSUBPS Y9, Y8, Y11 \
	VMOVUPS Y10, S1 \
	VMOVUPS Y11, S2 \
	VSUBPS Y1, Y3, Y8 \
	VMULPS Y13, Y8, Y8 \
	VADDPS Y8, Y7, Y9 \
	VSUBPS Y8, Y7, Y10 \
	VMOVUPS Y9, S3 \
	VMOVUPS Y10, S4 \
	VSUBPS Y3, Y1, Y8 \
	VMULPS Y12, Y8, Y8 \
	VSUBPS Y3, Y5, Y9 \
	VADDPS Y9, Y8, Y8 \
	VMOVUPS Y8, S5

// W4OUT(m0..m5 loaded in Y0-Y5; S0..S3 stores): wino4Out.
#define W4OUT(S0, S1, S2, S3) \
	VADDPS Y2, Y1, Y6 \
	VSUBPS Y2, Y1, Y7 \
	VADDPS Y4, Y3, Y8 \
	VSUBPS Y4, Y3, Y9 \
	VADDPS Y6, Y0, Y10 \
	VADDPS Y8, Y10, Y10 \
	VMOVUPS Y10, S0 \
	VMULPS Y13, Y9, Y11 \
	VADDPS Y11, Y7, Y11 \
	VMOVUPS Y11, S1 \
	VMULPS Y12, Y8, Y8 \
	VADDPS Y8, Y6, Y8 \
	VMOVUPS Y8, S2 \
	VMULPS Y14, Y9, Y9 \
	VADDPS Y9, Y7, Y9 \
	VADDPS Y5, Y9, Y9 \
	VMOVUPS Y9, S3

#define W4LOAD(L0, L1, L2, L3, L4, L5) \
	VMOVUPS L0, Y0 \
	VMOVUPS L1, Y1 \
	VMOVUPS L2, Y2 \
	VMOVUPS L3, Y3 \
	VMOVUPS L4, Y4 \
	VMOVUPS L5, Y5

#define W4CONSTS \
	MOVL $0x40800000, AX \
	VMOVD AX, X12 \
	VBROADCASTSS X12, Y12 \
	MOVL $0x40000000, AX \
	VMOVD AX, X13 \
	VBROADCASTSS X13, Y13 \
	MOVL $0x41000000, AX \
	VMOVD AX, X14 \
	VBROADCASTSS X14, Y14

// func winoInput4AVX2(dst, src, tmp *float32, tiles, c8, c, rs, srcAdj, dstAdj int)
TEXT ·winoInput4AVX2(SB), NOSPLIT, $0-72
	W4CONSTS
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ tmp+16(FP), BX
	MOVQ tiles+24(FP), R14
	MOVQ c+40(FP), R8
	SHLQ $2, R8              // one pixel (or one ξ), bytes
	LEAQ (R8)(R8*2), R9      // 3 pixels
	LEAQ (R8)(R8*4), R13     // 5 pixels
	LEAQ (R9)(R9*1), R12     // 6 pixels (one row of ξ)
	MOVQ rs+48(FP), CX
	SHLQ $2, CX              // one row, bytes
	LEAQ (CX)(CX*2), R10     // 3 rows
	LEAQ (CX)(CX*4), R11     // 5 rows

w4itile:
	MOVQ c8+32(FP), DX

w4ich:
	LEAQ (SI), AX
	W4LOAD((AX), (AX)(CX*1), (AX)(CX*2), (AX)(R10*1), (AX)(CX*4), (AX)(R11*1))
	W4IN(0(BX), 192(BX), 384(BX), 576(BX), 768(BX), 960(BX))
	LEAQ (SI)(R8*1), AX
	W4LOAD((AX), (AX)(CX*1), (AX)(CX*2), (AX)(R10*1), (AX)(CX*4), (AX)(R11*1))
	W4IN(32(BX), 224(BX), 416(BX), 608(BX), 800(BX), 992(BX))
	LEAQ (SI)(R8*2), AX
	W4LOAD((AX), (AX)(CX*1), (AX)(CX*2), (AX)(R10*1), (AX)(CX*4), (AX)(R11*1))
	W4IN(64(BX), 256(BX), 448(BX), 640(BX), 832(BX), 1024(BX))
	LEAQ (SI)(R9*1), AX
	W4LOAD((AX), (AX)(CX*1), (AX)(CX*2), (AX)(R10*1), (AX)(CX*4), (AX)(R11*1))
	W4IN(96(BX), 288(BX), 480(BX), 672(BX), 864(BX), 1056(BX))
	LEAQ (SI)(R8*4), AX
	W4LOAD((AX), (AX)(CX*1), (AX)(CX*2), (AX)(R10*1), (AX)(CX*4), (AX)(R11*1))
	W4IN(128(BX), 320(BX), 512(BX), 704(BX), 896(BX), 1088(BX))
	LEAQ (SI)(R13*1), AX
	W4LOAD((AX), (AX)(CX*1), (AX)(CX*2), (AX)(R10*1), (AX)(CX*4), (AX)(R11*1))
	W4IN(160(BX), 352(BX), 544(BX), 736(BX), 928(BX), 1120(BX))
	MOVQ DI, AX
	W4LOAD(0(BX), 32(BX), 64(BX), 96(BX), 128(BX), 160(BX))
	W4IN((AX), (AX)(R8*1), (AX)(R8*2), (AX)(R9*1), (AX)(R8*4), (AX)(R13*1))
	ADDQ R12, AX
	W4LOAD(192(BX), 224(BX), 256(BX), 288(BX), 320(BX), 352(BX))
	W4IN((AX), (AX)(R8*1), (AX)(R8*2), (AX)(R9*1), (AX)(R8*4), (AX)(R13*1))
	ADDQ R12, AX
	W4LOAD(384(BX), 416(BX), 448(BX), 480(BX), 512(BX), 544(BX))
	W4IN((AX), (AX)(R8*1), (AX)(R8*2), (AX)(R9*1), (AX)(R8*4), (AX)(R13*1))
	ADDQ R12, AX
	W4LOAD(576(BX), 608(BX), 640(BX), 672(BX), 704(BX), 736(BX))
	W4IN((AX), (AX)(R8*1), (AX)(R8*2), (AX)(R9*1), (AX)(R8*4), (AX)(R13*1))
	ADDQ R12, AX
	W4LOAD(768(BX), 800(BX), 832(BX), 864(BX), 896(BX), 928(BX))
	W4IN((AX), (AX)(R8*1), (AX)(R8*2), (AX)(R9*1), (AX)(R8*4), (AX)(R13*1))
	ADDQ R12, AX
	W4LOAD(960(BX), 992(BX), 1024(BX), 1056(BX), 1088(BX), 1120(BX))
	W4IN((AX), (AX)(R8*1), (AX)(R8*2), (AX)(R9*1), (AX)(R8*4), (AX)(R13*1))
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, DX
	JNZ w4ich

	ADDQ srcAdj+56(FP), SI
	ADDQ dstAdj+64(FP), DI
	DECQ R14
	JNZ w4itile
	VZEROUPPER
	RET

// func winoOutput4AVX2(dst, src, tmp *float32, tiles, f8, f, rs, srcAdj, dstAdj int)
TEXT ·winoOutput4AVX2(SB), NOSPLIT, $0-72
	W4CONSTS
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ tmp+16(FP), BX
	MOVQ tiles+24(FP), R14
	MOVQ f+40(FP), R8
	SHLQ $2, R8              // one filter plane ξ (or one pixel), bytes
	LEAQ (R8)(R8*2), R9      // 3
	LEAQ (R8)(R8*4), R10     // 5
	LEAQ (R9)(R9*1), R12     // 6: one row of ξ
	LEAQ (R12)(R12*2), R13   // 18: 3 rows of ξ
	LEAQ (R12)(R12*4), R11   // 30: 5 rows of ξ
	MOVQ rs+48(FP), CX
	SHLQ $2, CX              // one output row, bytes

w4otile:
	MOVQ f8+32(FP), DX

w4och:
	LEAQ (SI), AX
	W4LOAD((AX), (AX)(R12*1), (AX)(R12*2), (AX)(R13*1), (AX)(R12*4), (AX)(R11*1))
	W4OUT(0(BX), 192(BX), 384(BX), 576(BX))
	LEAQ (SI)(R8*1), AX
	W4LOAD((AX), (AX)(R12*1), (AX)(R12*2), (AX)(R13*1), (AX)(R12*4), (AX)(R11*1))
	W4OUT(32(BX), 224(BX), 416(BX), 608(BX))
	LEAQ (SI)(R8*2), AX
	W4LOAD((AX), (AX)(R12*1), (AX)(R12*2), (AX)(R13*1), (AX)(R12*4), (AX)(R11*1))
	W4OUT(64(BX), 256(BX), 448(BX), 640(BX))
	LEAQ (SI)(R9*1), AX
	W4LOAD((AX), (AX)(R12*1), (AX)(R12*2), (AX)(R13*1), (AX)(R12*4), (AX)(R11*1))
	W4OUT(96(BX), 288(BX), 480(BX), 672(BX))
	LEAQ (SI)(R8*4), AX
	W4LOAD((AX), (AX)(R12*1), (AX)(R12*2), (AX)(R13*1), (AX)(R12*4), (AX)(R11*1))
	W4OUT(128(BX), 320(BX), 512(BX), 704(BX))
	LEAQ (SI)(R10*1), AX
	W4LOAD((AX), (AX)(R12*1), (AX)(R12*2), (AX)(R13*1), (AX)(R12*4), (AX)(R11*1))
	W4OUT(160(BX), 352(BX), 544(BX), 736(BX))
	MOVQ DI, AX
	W4LOAD(0(BX), 32(BX), 64(BX), 96(BX), 128(BX), 160(BX))
	W4OUT((AX), (AX)(R8*1), (AX)(R8*2), (AX)(R9*1))
	ADDQ CX, AX
	W4LOAD(192(BX), 224(BX), 256(BX), 288(BX), 320(BX), 352(BX))
	W4OUT((AX), (AX)(R8*1), (AX)(R8*2), (AX)(R9*1))
	ADDQ CX, AX
	W4LOAD(384(BX), 416(BX), 448(BX), 480(BX), 512(BX), 544(BX))
	W4OUT((AX), (AX)(R8*1), (AX)(R8*2), (AX)(R9*1))
	ADDQ CX, AX
	W4LOAD(576(BX), 608(BX), 640(BX), 672(BX), 704(BX), 736(BX))
	W4OUT((AX), (AX)(R8*1), (AX)(R8*2), (AX)(R9*1))
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, DX
	JNZ w4och

	ADDQ srcAdj+56(FP), SI
	ADDQ dstAdj+64(FP), DI
	DECQ R14
	JNZ w4otile
	VZEROUPPER
	RET

// W4FILT(g0, g1, g2 loaded in Y0-Y2; S0..S5 stores): wino4Filt, with Y12,
// Y13, Y14 and Y15 holding ¼, ½, ⅙ and -⅙.
#define W4FILT(S0, S1, S2, S3, S4, S5) \
	VMULPS Y12, Y0, Y3 \
	VMOVUPS Y3, S0 \
	VMULPS Y13, Y1, Y4 \
	VADDPS Y1, Y0, Y5 \
	VADDPS Y2, Y5, Y5 \
	VMULPS Y15, Y5, Y5 \
	VMOVUPS Y5, S1 \
	VSUBPS Y1, Y0, Y6 \
	VADDPS Y2, Y6, Y6 \
	VMULPS Y15, Y6, Y6 \
	VMOVUPS Y6, S2 \
	VADDPS Y4, Y3, Y7 \
	VADDPS Y2, Y7, Y7 \
	VMULPS Y14, Y7, Y7 \
	VMOVUPS Y7, S3 \
	VSUBPS Y4, Y3, Y8 \
	VADDPS Y2, Y8, Y8 \
	VMULPS Y14, Y8, Y8 \
	VMOVUPS Y8, S4 \
	VMOVUPS Y2, S5

// func winoFilter4AVX2(u, w, tmp *float32, n, ck int)
TEXT ·winoFilter4AVX2(SB), NOSPLIT, $0-40
	MOVL $0x3E800000, AX
	VMOVD AX, X12
	VBROADCASTSS X12, Y12
	MOVL $0x3F000000, AX
	VMOVD AX, X13
	VBROADCASTSS X13, Y13
	MOVL $0x3E2AAAAB, AX
	VMOVD AX, X14
	VBROADCASTSS X14, Y14
	MOVL $0xBE2AAAAB, AX
	VMOVD AX, X15
	VBROADCASTSS X15, Y15
	MOVQ u+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ tmp+16(FP), BX
	MOVQ n+24(FP), DX
	MOVQ ck+32(FP), R8
	SHLQ $2, R8              // one plane, bytes
	LEAQ (R8)(R8*2), R9      // 3 planes
	LEAQ (R8)(R8*4), R13     // 5 planes
	LEAQ (R9)(R9*1), R12     // 6 planes

w4fl:
	LEAQ (SI), AX
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(R9*1), Y1
	VMOVUPS (AX)(R12*1), Y2
	W4FILT(0(BX), 96(BX), 192(BX), 288(BX), 384(BX), 480(BX))
	LEAQ (SI)(R8*1), AX
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(R9*1), Y1
	VMOVUPS (AX)(R12*1), Y2
	W4FILT(32(BX), 128(BX), 224(BX), 320(BX), 416(BX), 512(BX))
	LEAQ (SI)(R8*2), AX
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(R9*1), Y1
	VMOVUPS (AX)(R12*1), Y2
	W4FILT(64(BX), 160(BX), 256(BX), 352(BX), 448(BX), 544(BX))
	MOVQ DI, AX
	VMOVUPS 0(BX), Y0
	VMOVUPS 32(BX), Y1
	VMOVUPS 64(BX), Y2
	W4FILT((AX), (AX)(R8*1), (AX)(R8*2), (AX)(R9*1), (AX)(R8*4), (AX)(R13*1))
	ADDQ R12, AX
	VMOVUPS 96(BX), Y0
	VMOVUPS 128(BX), Y1
	VMOVUPS 160(BX), Y2
	W4FILT((AX), (AX)(R8*1), (AX)(R8*2), (AX)(R9*1), (AX)(R8*4), (AX)(R13*1))
	ADDQ R12, AX
	VMOVUPS 192(BX), Y0
	VMOVUPS 224(BX), Y1
	VMOVUPS 256(BX), Y2
	W4FILT((AX), (AX)(R8*1), (AX)(R8*2), (AX)(R9*1), (AX)(R8*4), (AX)(R13*1))
	ADDQ R12, AX
	VMOVUPS 288(BX), Y0
	VMOVUPS 320(BX), Y1
	VMOVUPS 352(BX), Y2
	W4FILT((AX), (AX)(R8*1), (AX)(R8*2), (AX)(R9*1), (AX)(R8*4), (AX)(R13*1))
	ADDQ R12, AX
	VMOVUPS 384(BX), Y0
	VMOVUPS 416(BX), Y1
	VMOVUPS 448(BX), Y2
	W4FILT((AX), (AX)(R8*1), (AX)(R8*2), (AX)(R9*1), (AX)(R8*4), (AX)(R13*1))
	ADDQ R12, AX
	VMOVUPS 480(BX), Y0
	VMOVUPS 512(BX), Y1
	VMOVUPS 544(BX), Y2
	W4FILT((AX), (AX)(R8*1), (AX)(R8*2), (AX)(R9*1), (AX)(R8*4), (AX)(R13*1))
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, DX
	JNZ w4fl
	VZEROUPPER
	RET

// func clampAVX2(dst, x *float32, lo, hi float32, n int)
// dst = min(max(x, lo), hi) as the pure Go's "if lo > v { v = lo }; if
// hi < v { v = hi }": MAXPS and MINPS return their second (Intel) source,
// x, when either is NaN or both are zeros, so NaN and -0 pass.
TEXT ·clampAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	VBROADCASTSS lo+16(FP), Y14
	VBROADCASTSS hi+20(FP), Y13
	MOVQ n+24(FP), CX
	SHLQ $2, CX
	MOVQ CX, DX
	ANDQ $-128, DX
	XORQ AX, AX
	TESTQ DX, DX
	JZ clamp8

clamp32:
	VMOVUPS (SI)(AX*1), Y0
	VMOVUPS 32(SI)(AX*1), Y1
	VMOVUPS 64(SI)(AX*1), Y2
	VMOVUPS 96(SI)(AX*1), Y3
	VMAXPS Y0, Y14, Y0
	VMAXPS Y1, Y14, Y1
	VMAXPS Y2, Y14, Y2
	VMAXPS Y3, Y14, Y3
	VMINPS Y0, Y13, Y0
	VMINPS Y1, Y13, Y1
	VMINPS Y2, Y13, Y2
	VMINPS Y3, Y13, Y3
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	VMOVUPS Y2, 64(DI)(AX*1)
	VMOVUPS Y3, 96(DI)(AX*1)
	ADDQ $128, AX
	CMPQ AX, DX
	JB clamp32

clamp8:
	CMPQ AX, CX
	JAE clampdone
	VMOVUPS (SI)(AX*1), Y0
	VMAXPS Y0, Y14, Y0
	VMINPS Y0, Y13, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP clamp8

clampdone:
	VZEROUPPER
	RET

// func mulAddAVX2(dst, a, b *float32, n int)
// dst += a*b element by element, a multiply then an add (not fused), as
// the pure Go.
TEXT ·mulAddAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), BX
	MOVQ n+24(FP), CX
	SHLQ $2, CX
	MOVQ CX, DX
	ANDQ $-64, DX
	XORQ AX, AX
	TESTQ DX, DX
	JZ muladd8

muladd16:
	VMOVUPS (SI)(AX*1), Y0
	VMOVUPS 32(SI)(AX*1), Y1
	VMULPS (BX)(AX*1), Y0, Y0
	VMULPS 32(BX)(AX*1), Y1, Y1
	VADDPS (DI)(AX*1), Y0, Y0
	VADDPS 32(DI)(AX*1), Y1, Y1
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	ADDQ $64, AX
	CMPQ AX, DX
	JB muladd16

muladd8:
	CMPQ AX, CX
	JAE muladddone
	VMOVUPS (SI)(AX*1), Y0
	VMULPS (BX)(AX*1), Y0, Y0
	VADDPS (DI)(AX*1), Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP muladd8

muladddone:
	VZEROUPPER
	RET

// func normAVX2(dst, x, m, s, t *float32, n int)
// dst = (x-m)*s + t element by element (subtract, multiply, add: the
// inference batch normalization with s = gamma/sqrt(var+eps)).
TEXT ·normAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ m+16(FP), R9
	MOVQ s+24(FP), BX
	MOVQ t+32(FP), R8
	MOVQ n+40(FP), CX
	SHLQ $2, CX
	XORQ AX, AX

norm8:
	CMPQ AX, CX
	JAE normdone
	VMOVUPS (SI)(AX*1), Y0
	VSUBPS (R9)(AX*1), Y0, Y0
	VMULPS (BX)(AX*1), Y0, Y0
	VADDPS (R8)(AX*1), Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP norm8

normdone:
	VZEROUPPER
	RET

// func maxIntoAVX2(d, s *float32, n int)
// d = s > d ? s : d element by element, the pure Go's select: MAXPS
// returns its second (Intel) source, d, on ties and NaNs.
TEXT ·maxIntoAVX2(SB), NOSPLIT, $0-24
	MOVQ d+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ n+16(FP), CX
	SHLQ $2, CX
	XORQ AX, AX

max8:
	CMPQ AX, CX
	JAE maxdone
	VMOVUPS (SI)(AX*1), Y0
	VMOVUPS (DI)(AX*1), Y1
	VMAXPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP max8

maxdone:
	VZEROUPPER
	RET

// func depthwiseTapsAVX2(out, x, k *float32, offs *int, taps, c int)
// out[ch] = sum over the taps t, in order, of x[offs[2t]+ch]*k[offs[2t+1]+ch]
// (offsets in bytes), for ch < c, a multiple of 8: each product rounded,
// then added to the sum started at 0, as mulAdd over a cleared out.
TEXT ·depthwiseTapsAVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ k+16(FP), DX
	MOVQ offs+24(FP), R8
	MOVQ taps+32(FP), R9
	MOVQ c+40(FP), CX
	SHLQ $2, CX
	MOVQ CX, BX
	ANDQ $-128, BX
	XORQ AX, AX

dw32:
	CMPQ AX, BX
	JAE dw8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ R8, R10
	MOVQ R9, R11
dw32tap:
	MOVQ (R10), R12
	MOVQ 8(R10), R13
	ADDQ SI, R12
	ADDQ AX, R12
	ADDQ DX, R13
	ADDQ AX, R13
	VMOVUPS 0(R12), Y4
	VMULPS 0(R13), Y4, Y4
	VADDPS Y4, Y0, Y0
	VMOVUPS 32(R12), Y5
	VMULPS 32(R13), Y5, Y5
	VADDPS Y5, Y1, Y1
	VMOVUPS 64(R12), Y6
	VMULPS 64(R13), Y6, Y6
	VADDPS Y6, Y2, Y2
	VMOVUPS 96(R12), Y7
	VMULPS 96(R13), Y7, Y7
	VADDPS Y7, Y3, Y3
	ADDQ $16, R10
	DECQ R11
	JNE dw32tap
	VMOVUPS Y0, 0(DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	VMOVUPS Y2, 64(DI)(AX*1)
	VMOVUPS Y3, 96(DI)(AX*1)
	ADDQ $128, AX
	JMP dw32

dw8:
	CMPQ AX, CX
	JAE dwdone
	VXORPS Y0, Y0, Y0
	MOVQ R8, R10
	MOVQ R9, R11
dw8tap:
	MOVQ (R10), R12
	MOVQ 8(R10), R13
	ADDQ SI, R12
	ADDQ AX, R12
	ADDQ DX, R13
	ADDQ AX, R13
	VMOVUPS (R12), Y4
	VMULPS (R13), Y4, Y4
	VADDPS Y4, Y0, Y0
	ADDQ $16, R10
	DECQ R11
	JNE dw8tap
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP dw8

dwdone:
	VZEROUPPER
	RET

// func epilogueRowsAVX2(dst, m, s, t, r *float32, n, rows, mode int)
// epilogueRowAVX2 over rows rows of n floats (a multiple of 8), one after
// the other in dst and in r, with the same m, s and t.
TEXT ·epilogueRowsAVX2(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ m+8(FP), R9
	MOVQ s+16(FP), BX
	MOVQ t+24(FP), R8
	MOVQ r+32(FP), R10
	MOVQ n+40(FP), CX
	MOVQ rows+48(FP), R11
	MOVQ mode+56(FP), DX
	SHLQ $2, CX
	VXORPS Y15, Y15, Y15
	TESTQ R11, R11
	JEQ epsdone

epsrow:
	XORQ AX, AX

eps8:
	CMPQ AX, CX
	JAE epsnext
	VMOVUPS (DI)(AX*1), Y0
	TESTQ $1, DX
	JZ epsres
	VSUBPS (R9)(AX*1), Y0, Y0
	VMULPS (BX)(AX*1), Y0, Y0
	VADDPS (R8)(AX*1), Y0, Y0

epsres:
	TESTQ $2, DX
	JZ epsrelu
	VADDPS (R10)(AX*1), Y0, Y0

epsrelu:
	TESTQ $4, DX
	JZ epsstore
	RELU8(Y0)

epsstore:
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP eps8

epsnext:
	ADDQ CX, DI
	ADDQ CX, R10
	DECQ R11
	JNE epsrow

epsdone:
	VZEROUPPER
	RET

// func addIntoAVX2(d, s *float32, n int)
// d += s element by element, n a multiple of 8.
TEXT ·addIntoAVX2(SB), NOSPLIT, $0-24
	MOVQ d+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ n+16(FP), CX
	SHLQ $2, CX
	XORQ AX, AX

add8:
	CMPQ AX, CX
	JAE adddone
	VMOVUPS (DI)(AX*1), Y0
	VADDPS (SI)(AX*1), Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP add8

adddone:
	VZEROUPPER
	RET

// func epilogueRowAVX2(dst, m, s, t, r *float32, n, mode int)
// dst = relu(((dst-m)*s + t) + r) with each step optional (mode bit 0:
// normalize, as normAVX2; bit 1: add r; bit 2: ReLU, as reluAVX2), in
// that order and rounding each step, as the separate kernels do.
TEXT ·epilogueRowAVX2(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ m+8(FP), R9
	MOVQ s+16(FP), BX
	MOVQ t+24(FP), R8
	MOVQ r+32(FP), R10
	MOVQ n+40(FP), CX
	MOVQ mode+48(FP), DX
	SHLQ $2, CX
	XORQ AX, AX
	VXORPS Y15, Y15, Y15

ep8:
	CMPQ AX, CX
	JAE epdone
	VMOVUPS (DI)(AX*1), Y0
	TESTQ $1, DX
	JZ epres
	VSUBPS (R9)(AX*1), Y0, Y0
	VMULPS (BX)(AX*1), Y0, Y0
	VADDPS (R8)(AX*1), Y0, Y0

epres:
	TESTQ $2, DX
	JZ eprelu
	VADDPS (R10)(AX*1), Y0, Y0

eprelu:
	TESTQ $4, DX
	JZ epstore
	RELU8(Y0)

epstore:
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP ep8

epdone:
	VZEROUPPER
	RET
