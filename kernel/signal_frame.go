package kernel

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/platform"
	"github.com/minisentry/minisentry/usermem"
)

// The x86-64 signal frame, as Linux builds it (arch/x86/kernel/signal.c)
// and as libcs and the Go runtime expect it. From high to low addresses on
// the stack:
//
//	the interrupted stack, less a 128-byte red zone
//	the XSAVE area of the FP state, 64-byte aligned, then 4 magic bytes
//	struct rt_sigframe {
//	    pretcode       the return address: sa_restorer, which calls rt_sigreturn
//	    struct ucontext uc {flags, link, stack_t, sigcontext, sigmask}
//	    siginfo_t info
//	}                  at an address that is 8 mod 16, as if called
//
// The handler gets (signo, &info, &uc); rt_sigreturn reads uc back.

// Layout of the frame, in bytes.
const (
	redZoneSize        = 128
	ucontextSize       = 304
	sigcontextOffset   = 40  // of uc_mcontext in ucontext
	sigmaskOffset      = 296 // of uc_sigmask in ucontext
	siginfoSize        = 128
	sigframeSize       = 8 + ucontextSize + siginfoSize
	fpAlign            = 64
	fpMagic1           = 0x46505853 // FP_XSTATE_MAGIC1, in the legacy area's software bytes
	fpMagic2           = 0x46505845 // FP_XSTATE_MAGIC2, after the XSAVE area
	fpSwBytesOffset    = 464        // of struct _fpx_sw_bytes in the XSAVE area
	xstateBVOffset     = 512        // of the XSAVE header's xstate_bv
	ucFPXState         = 0x1        // UC_FP_XSTATE
	ucSigcontextSS     = 0x2        // UC_SIGCONTEXT_SS
	ucStrictRestoreSS  = 0x4        // UC_STRICT_RESTORE_SS
	restorableEflags   = 0x50dd5    // AC|OF|DF|TF|SF|ZF|AF|PF|CF|RF: what sigreturn may change
	handlerClearEflags = 0x10500    // DF|RF|TF: cleared for the handler
)

// sigcontext register order: r8 r9 r10 r11 r12 r13 r14 r15 rdi rsi rbp rbx
// rdx rax rcx rsp rip eflags, then cs gs fs ss (16 bits each), err,
// trapno, oldmask, cr2, fpstate.
const (
	scRip     = 16 * 8
	scEflags  = 17 * 8
	scCS      = 18 * 8
	scErr     = 19 * 8
	scTrapno  = 20 * 8
	scOldmask = 21 * 8
	scCR2     = 22 * 8
	scFPState = 23 * 8
)

// gprs returns pointers to the registers in sigcontext order.
func gprs(t *Task) []*uint64 {
	r := t.Regs()
	return []*uint64{&r.R8, &r.R9, &r.R10, &r.R11, &r.R12, &r.R13, &r.R14, &r.R15,
		&r.Rdi, &r.Rsi, &r.Rbp, &r.Rbx, &r.Rdx, &r.Rax, &r.Rcx, &r.Rsp}
}

// errNoRestorer means the action has no SA_RESTORER: on x86-64 there is
// no other way back from a handler.
var errNoRestorer = errors.New("signal action without SA_RESTORER")

// setupSignalFrame builds the frame for info on the right stack and points
// the task at act's handler.
func (t *Task) setupSignalFrame(info *SignalInfo, act SigAction) error {
	if act.Flags&SARestorer == 0 {
		return errNoRestorer
	}
	regs := t.Regs()
	le := usermem.ByteOrder
	stack := t.SignalStack()
	sp := regs.Rsp - redZoneSize
	if act.Flags&SAOnStack != 0 && stack.Flags&(SSDisable|SSOnStack) == 0 && stack.Size != 0 {
		sp = stack.Addr + stack.Size
	}

	fp, err := t.pctx.FPState()
	if err != nil {
		return err
	}
	fpAddr := (sp - uint64(len(fp)) - 4) &^ (fpAlign - 1)
	frame := ((fpAddr - sigframeSize) &^ 15) - 8

	// The FP state with the software bytes that tell its reader how large
	// it is, and the trailing magic.
	fpBuf := make([]byte, len(fp)+4)
	copy(fpBuf, fp)
	if len(fp) >= xstateBVOffset+8 {
		sw := fpBuf[fpSwBytesOffset:]
		le.PutUint32(sw[0:], fpMagic1)
		le.PutUint32(sw[4:], uint32(len(fp)+4))
		le.PutUint64(sw[8:], le.Uint64(fp[xstateBVOffset:])|0x3)
		le.PutUint32(sw[16:], uint32(len(fp)))
		le.PutUint32(fpBuf[len(fp):], fpMagic2)
	}
	if _, err := t.CopyOutBytes(usermem.Addr(fpAddr), fpBuf); err != nil {
		return err
	}

	buf := make([]byte, sigframeSize)
	le.PutUint64(buf[0:], act.Restorer)
	uc := buf[8:]
	le.PutUint64(uc[0:], ucFPXState|ucSigcontextSS|ucStrictRestoreSS)
	le.PutUint64(uc[16:], stack.Addr)
	le.PutUint32(uc[24:], uint32(stack.Flags))
	le.PutUint64(uc[32:], stack.Size)
	sc := uc[sigcontextOffset:]
	for i, r := range gprs(t) {
		le.PutUint64(sc[i*8:], *r)
	}
	le.PutUint64(sc[scRip:], regs.Rip)
	le.PutUint64(sc[scEflags:], regs.Eflags)
	le.PutUint16(sc[scCS:], uint16(regs.Cs))
	le.PutUint16(sc[scCS+6:], uint16(regs.Ss))
	if info.Signo == int32(unix.SIGSEGV) || info.Signo == int32(unix.SIGBUS) {
		le.PutUint64(sc[scCR2:], info.Addr())
		le.PutUint64(sc[scTrapno:], 14) // #PF
	}
	// The mask to restore on return: sigsuspend's caller's, if the signal
	// ends a sigsuspend.
	oldMask := t.SignalMask()
	if t.savedSignalMask != nil {
		oldMask = *t.savedSignalMask
		t.savedSignalMask = nil
	}
	le.PutUint64(sc[scOldmask:], oldMask)
	le.PutUint64(sc[scFPState:], fpAddr)
	le.PutUint64(uc[sigmaskOffset:], oldMask)
	info.CopyTo(buf[8+ucontextSize:])
	if _, err := t.CopyOutBytes(usermem.Addr(frame), buf); err != nil {
		return err
	}

	// The handler starts with a clean FPU, as on Linux.
	if err := t.pctx.SetFPState(initFPState(fp)); err != nil {
		return err
	}
	regs.Rip = act.Handler
	regs.Rsp = frame
	regs.Rdi = uint64(info.Signo)
	regs.Rsi = frame + 8 + ucontextSize
	regs.Rdx = frame + 8
	regs.Rax = 0
	regs.Eflags &^= handlerClearEflags
	// A handler runs in 64-bit mode, whatever segment the program was
	// in: a code segment of 0 is none, which the platform replaces with
	// its 64-bit user segment.
	regs.Cs = 0
	return nil
}

// initFPState returns the XSAVE image of a freshly reset FPU, in the shape
// of like: x87 control word 0x37f, MXCSR 0x1f80, every component in its
// initial state.
func initFPState(like []byte) []byte {
	init := make([]byte, len(like))
	le := usermem.ByteOrder
	if len(init) >= 32 {
		le.PutUint16(init[0:], 0x37f)
		le.PutUint32(init[24:], 0x1f80)
		le.PutUint32(init[28:], le.Uint32(like[28:])) // MXCSR_MASK, read-only
	}
	return init
}

// SignalReturn restores the context saved by setupSignalFrame, as
// rt_sigreturn(2), in Linux's order: the signal mask, the registers, the
// FP state, the alternate stack. A frame that cannot be read, or holds FP
// state the CPU would refuse, raises SIGSEGV (badSignalFrame), with what
// was restored before it kept, never a sentry error.
func (t *Task) SignalReturn() (uintptr, error) {
	regs := t.Regs()
	ucAddr := usermem.Addr(regs.Rsp)
	uc := make([]byte, ucontextSize)
	if _, err := t.CopyInBytes(ucAddr, uc); err != nil {
		return t.badSignalFrame()
	}
	le := usermem.ByteOrder
	sc := uc[sigcontextOffset:]
	t.SetSignalMask(le.Uint64(uc[sigmaskOffset:]))
	for i, r := range gprs(t) {
		*r = le.Uint64(sc[i*8:])
	}
	regs.Rip = le.Uint64(sc[scRip:])
	regs.Eflags = regs.Eflags&^restorableEflags | le.Uint64(sc[scEflags:])&restorableEflags
	// The code segment with user privilege, as Linux restores it; the
	// platform keeps only the host's user segments.
	regs.Cs = uint64(le.Uint16(sc[scCS:])) | 3

	fpAddr := usermem.Addr(le.Uint64(sc[scFPState:]))
	cur, err := t.pctx.FPState()
	if err != nil {
		return 0, err
	}
	fp := initFPState(cur)
	if fpAddr != 0 {
		if err := t.copyInFPState(fpAddr, fp); err != nil {
			return t.badSignalFrame()
		}
		// MXCSR bits the CPU does not have: Linux refuses the frame
		// rather than let the restore fault. (The host's ptrace would
		// take them.)
		if mask := le.Uint32(cur[28:]); mask != 0 && le.Uint32(fp[24:])&^mask != 0 {
			return t.badSignalFrame()
		}
	}
	if err := t.pctx.SetFPState(fp); err != nil {
		// The host rejected the state (reserved bits set): the frame was
		// corrupt.
		return t.badSignalFrame()
	}

	// The alternate stack last: Linux ignores every error of it but
	// EFAULT.
	var stack SignalStack
	stack.Addr = le.Uint64(uc[16:])
	stack.Flags = int32(le.Uint32(uc[24:]))
	stack.Size = le.Uint64(uc[32:])
	t.SetSignalStack(stack)
	return uintptr(regs.Rax), nil
}

// copyInFPState reads the FP state of a signal frame at addr into fp, an
// initial state of the task's size. Only a state whose software bytes
// carry FP_XSTATE_MAGIC1 is read whole; without it, as Linux does for a
// frame written by a program that knows only FXSAVE, just the 512-byte
// legacy area is, and the other components keep their initial state.
func (t *Task) copyInFPState(addr usermem.Addr, fp []byte) error {
	const legacySize = fpSwBytesOffset + 48 // the FXSAVE area
	if _, err := t.CopyInBytes(addr, fp[:legacySize]); err != nil {
		return err
	}
	le := usermem.ByteOrder
	whole := len(fp) > legacySize && le.Uint32(fp[fpSwBytesOffset:]) == fpMagic1
	// The software bytes are the sentry's own bookkeeping, not FPU
	// state; a handler may have scribbled on them.
	clear(fp[fpSwBytesOffset:legacySize])
	if !whole {
		if len(fp) >= xstateBVOffset+8 {
			le.PutUint64(fp[xstateBVOffset:], 0x3) // x87 and SSE
		}
		return nil
	}
	_, err := t.CopyInBytes(addr+legacySize, fp[legacySize:])
	return err
}

// badSignalFrame answers an rt_sigreturn whose frame it cannot use as
// Linux does: a SIGSEGV forced on the task (which a handler on an
// alternate stack may catch), and 0 for the call's result.
func (t *Task) badSignalFrame() (uintptr, error) {
	t.log().Debug("rt_sigreturn: bad frame")
	t.forceSignal(&SignalInfo{Signo: int32(unix.SIGSEGV), Code: platform.SI_KERNEL})
	return 0, nil
}
