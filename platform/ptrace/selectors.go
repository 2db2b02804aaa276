package ptrace

import "github.com/minisentry/minisentry/platform"

// The segment selectors of an application's registers. A program may
// switch its code segment between the host's 64-bit and 32-bit user
// segments itself (a far return to the compatibility-mode segment, as
// some emulators do) and load the user data segment into ds and es; those
// it keeps across every stop. Anything else would make PTRACE_SETREGS
// fail, or run the stub with segments the host never gave it, so it is
// replaced by the stub's own: 0, in particular, asks for the 64-bit user
// code segment. (A 32-bit system call is still refused: it
// stops as an AUDIT_ARCH_I386 call, whatever the segment.) fs and gs stay
// the stub's: their bases are the application's, and loading a selector
// would replace them.
//
// The selectors of Linux's x86-64 GDT (arch/x86/include/asm/segment.h),
// relative to the user data segment the host puts in a new process's ss:
// the 32-bit user code segment is the entry below it, the 64-bit one the
// entry above.
const selectorStride = 8

// applicationSelectors sets regs' selectors for a switch to the
// application, from the stub's init.
func applicationSelectors(regs, init *platform.Registers) {
	userDS := init.Ss
	user32CS := userDS - selectorStride
	if regs.Cs != init.Cs && regs.Cs != user32CS {
		regs.Cs = init.Cs
	}
	regs.Ss = init.Ss
	if regs.Ds != 0 && regs.Ds != userDS {
		regs.Ds = init.Ds
	}
	if regs.Es != 0 && regs.Es != userDS {
		regs.Es = init.Es
	}
	regs.Fs, regs.Gs = init.Fs, init.Gs
}
