package ptrace

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Making an address space means asking the master's control goroutine to
// fork the master, and starting a control goroutine (an OS thread) for
// the child; giving a task a stub thread means asking the control
// goroutine to clone one. Each hand-off to a sleeping OS thread costs tens
// of microseconds on these machines, and fork+exec+wait needs two of each.
// So the platform keeps work done ahead of need, off the application's
// critical path: a few address spaces forked in advance, and in each
// address space one stub thread cloned in advance.

// poolSize is how many address spaces are kept ready.
const poolSize = 2

// spacePool holds address spaces made ahead of need.
type spacePool struct {
	// ready holds the spaces made in advance.
	ready chan *subprocess

	// stop ends the refilling goroutine; done is closed when it has ended.
	stop chan struct{}
	done chan struct{}
}

// startPool starts the goroutine that keeps p.pool full.
func (p *Platform) startPool() {
	p.pool = spacePool{
		ready: make(chan *subprocess, poolSize),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go func() {
		defer close(p.pool.done)
		for {
			sp, err := p.forkSubprocess()
			if err != nil {
				// The platform is failing or closing; NewAddressSpace
				// will report the error itself.
				return
			}
			select {
			case p.pool.ready <- sp:
			case <-p.pool.stop:
				sp.Release()
				return
			}
		}
	}()
}

// stopPool stops refilling and releases the spaces not handed out.
func (p *Platform) stopPool() {
	close(p.pool.stop)
	<-p.pool.done
	for {
		select {
		case sp := <-p.pool.ready:
			sp.Release()
		default:
			return
		}
	}
}

// forkSubprocess makes a new address space by forking the master stub.
func (p *Platform) forkSubprocess() (*subprocess, error) {
	counters.addressSpaces.Add(1)
	return newSubprocess(p, func() (*thread, error) {
		var pid uintptr
		if err := p.master.run(func(t *thread) error {
			var err error
			pid, err = t.syscallAt(stubCloneAddr, unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0)
			return err
		}); err != nil {
			return nil, fmt.Errorf("forking the master stub: %w", err)
		}
		t, err := seize(int32(pid), int32(pid), &p.master.control.initRegs)
		if err != nil {
			unix.Kill(int(pid), unix.SIGKILL)
			return nil, err
		}
		return t, nil
	})
}

// cloneSpareThread clones a stub thread that waits, untraced, in the clone
// gadget's pause loop until a task seizes it, and queues its tid.
//
// Preconditions: called on s's control goroutine with the control thread.
func (s *subprocess) cloneSpareThread(t *thread) {
	tid, err := t.syscallAt(stubCloneAddr, unix.SYS_CLONE, threadCloneFlags, 0, 0, 0, 0)
	if err != nil {
		return // newThread will clone synchronously, and report the error
	}
	select {
	case s.spare <- int32(tid):
	default:
		unix.Tgkill(int(t.tgid), int(tid), unix.SIGKILL)
	}
}
