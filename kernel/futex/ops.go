package futex

// The operations and flags of futex(2), from <linux/futex.h>, which
// golang.org/x/sys/unix does not export. The system call handler and the
// strace decoder both use them.
const (
	OpWait          = 0
	OpWake          = 1
	OpFD            = 2 // removed in Linux 2.6.26: ENOSYS
	OpRequeue       = 3
	OpCmpRequeue    = 4
	OpWakeOp        = 5
	OpLockPI        = 6
	OpUnlockPI      = 7
	OpTrylockPI     = 8
	OpWaitBitset    = 9
	OpWakeBitset    = 10
	OpWaitRequeuePI = 11
	OpCmpRequeuePI  = 12
	OpLockPI2       = 13

	// FlagPrivate (FUTEX_PRIVATE_FLAG) keys the futex by address space.
	FlagPrivate = 128
	// FlagClockRealtime (FUTEX_CLOCK_REALTIME) measures a timeout on
	// CLOCK_REALTIME.
	FlagClockRealtime = 256
	// CmdMask extracts the operation from futex(2)'s op argument.
	CmdMask = ^uint32(FlagPrivate | FlagClockRealtime)
)
