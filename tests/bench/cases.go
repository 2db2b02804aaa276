package main

import (
	"fmt"

	"github.com/minisentry/minisentry/platform/ptrace"
)

// bench runs the cases and collects the table.
type bench struct {
	cfg   config
	p     *ptrace.Platform
	floor *floorTracer // nil unless the getppid case runs

	// floorNS is the pinned floor per call, which the modelled floors are
	// built from; none until the getppid case has run.
	floorNS float64

	rows []row
}

// measure is one measurement: nanoseconds per operation.
type measure func() (float64, error)

// medians runs each measure cfg.reps times, interleaved (a, b, a, b...) so
// that a slow spell of the machine hits them alike, and returns the median
// of each.
func (b *bench) medians(ms ...measure) ([]float64, error) {
	samples := make([][]float64, len(ms))
	for range b.cfg.reps {
		for i, m := range ms {
			ns, err := m()
			if err != nil {
				return nil, err
			}
			samples[i] = append(samples[i], ns)
		}
	}
	out := make([]float64, len(ms))
	for i := range samples {
		out[i] = median(samples[i])
	}
	return out, nil
}

// onSentry makes a measure of f run on a locked OS thread.
func onSentry(f func() (float64, error)) measure {
	return func() (ns float64, err error) {
		err = onLockedThread(func() error {
			ns, err = f()
			return err
		})
		return ns, err
	}
}

// onPinnedSentry is onSentry with the OS thread pinned to its CPU.
func onPinnedSentry(f func() (float64, error)) measure {
	return onSentry(func() (float64, error) {
		if err := pinThread(); err != nil {
			return 0, err
		}
		return f()
	})
}

func (b *bench) runCase(name string) error {
	switch name {
	case "getppid":
		return b.getppid()
	case "inject":
		return b.inject()
	case "fault":
		return b.fault()
	case "space":
		return b.space()
	}
	return fmt.Errorf("unknown case %q", name)
}

// getppid compares the platform's syscall round trip with the floor, pinned
// and unpinned. The unpinned floor runs a tenth of the calls: on machines
// where a stop that crosses CPUs costs tens of microseconds it would
// otherwise take most of the run, and the figure per call does not need more.
// A last row runs the platform with its tracer thread pinned as well, the
// floor's setup exactly: the gap between the two minisentry rows is what the
// tracer's migrations between CPUs cost. (inject and fault show the same.)
func (b *bench) getppid() error {
	n := b.cfg.calls
	sentry := func() (float64, error) { return sentryGetppid(b.p, n) }
	m, err := b.medians(
		func() (float64, error) { return b.floor.run(n, true) },
		onSentry(sentry),
		func() (float64, error) { return b.floor.run(max(n/10, 10), false) },
		onPinnedSentry(sentry),
		func() (float64, error) { return nativeGetppid(n) },
	)
	if err != nil {
		return err
	}
	floor, free, unpinned, pinned, native := m[0], m[1], m[2], m[3], m[4]
	b.floorNS = floor
	b.rows = append(b.rows,
		row{name: "getppid round trip", native: native, floor: floor, sentry: free},
		row{name: "  vs floor unpinned", native: none, floor: unpinned, sentry: free},
		row{name: "  sentry thread pinned too", native: none, floor: floor, sentry: pinned},
	)
	return nil
}

// inject times MapFile, one injected mmap each. Its modelled floor is one
// ptrace round trip plus the host's mmap. The hand-off to the control
// goroutine is several times slower, so that path runs a tenth of the calls
// to keep the run short.
func (b *bench) inject() error {
	n := b.cfg.calls
	own := func() (float64, error) { return sentryInject(b.p, n, true) }
	m, err := b.medians(
		onSentry(own),
		onPinnedSentry(own),
		onSentry(func() (float64, error) { return sentryInject(b.p, max(n/10, 10), false) }),
		func() (float64, error) { return nativeMmap(n) },
	)
	if err != nil {
		return err
	}
	free, pinned, control, native := m[0], m[1], m[2], m[3]
	floor := b.model(1, native)
	modelled := floor != none
	b.rows = append(b.rows,
		row{name: "injected mmap, own stub thread", native: native, floor: floor, sentry: free, modelled: modelled},
		row{name: "  sentry thread pinned too", native: native, floor: floor, sentry: pinned, modelled: modelled},
		row{name: "injected mmap, via control thread", native: native, floor: floor, sentry: control, modelled: modelled},
	)
	return nil
}

// fault times demand paging one page per fault. Its modelled floor is two
// ptrace round trips (the fault stop and the injected mmap) plus the host's
// mmap and first touch of a memfd page.
func (b *bench) fault() error {
	pages := b.cfg.pages
	sentry := func() (float64, error) { return sentryFault(b.p, pages) }
	m, err := b.medians(
		onSentry(sentry),
		onPinnedSentry(sentry),
		func() (float64, error) { return nativeTouch(pages) },
		func() (float64, error) { return nativeMmap(pages) },
	)
	if err != nil {
		return err
	}
	free, pinned, touch, mmap := m[0], m[1], m[2], m[3]
	floor := b.model(2, touch+mmap)
	modelled := floor != none
	b.rows = append(b.rows,
		row{name: "page fault, one page mapped", native: touch, floor: floor, sentry: free, modelled: modelled},
		row{name: "  sentry thread pinned too", native: touch, floor: floor, sentry: pinned, modelled: modelled},
	)
	return nil
}

// space times NewAddressSpace, alone and with Release. It has no floor: its
// cost is the platform's choice of mechanism (a fork of the master stub, a
// seize, a kill and a reap), not a bound.
func (b *bench) space() error {
	n := b.cfg.spaces
	m, err := b.medians(
		onSentry(func() (float64, error) { return sentrySpace(b.p, n, false) }),
		onSentry(func() (float64, error) { return sentrySpace(b.p, n, true) }),
	)
	if err != nil {
		return err
	}
	b.rows = append(b.rows,
		row{name: "new address space", native: none, floor: none, sentry: m[0]},
		row{name: "new address space + release", native: none, floor: none, sentry: m[1]},
	)
	return nil
}

// model returns a modelled floor of trips ptrace round trips plus host
// nanoseconds, or none when the floor was not measured.
func (b *bench) model(trips int, host float64) float64 {
	if b.floorNS <= 0 {
		return none
	}
	return float64(trips)*b.floorNS + host
}
