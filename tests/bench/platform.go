package main

import "fmt"

// The platform cases: the ptrace platform driven directly by this process,
// with the hand-assembled programs of asm.go and no kernel above it. They
// show what the platform's mechanisms cost apart from everything the
// sentry builds on them. Their rows are in µs per operation.

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

func (b *bench) runPlatformCase(name string) error {
	progress("platform: " + name)
	switch name {
	case "sysemu":
		return b.sysemu()
	case "inject":
		return b.inject()
	case "fault":
		return b.fault()
	case "space":
		return b.space()
	}
	return fmt.Errorf("unknown case %q", name)
}

// platformRow is a row of a platform case, in µs per operation.
func platformRow(key, name string, native, floor, sentry float64, modelled bool) row {
	return row{key: key, name: name, unit: "µs/op", div: perUS, native: native, floor: floor, sentry: sentry, modelled: modelled,
		nativeMin: none, sentryMin: none, noise: none}
}

// sysemu compares the platform's syscall round trip with the floor, pinned
// and unpinned. The unpinned floor runs a tenth of the calls: on machines
// where a stop that crosses CPUs costs tens of microseconds it would
// otherwise take most of the run, and the figure per call does not need
// more. A last row runs the platform with its tracer thread pinned as well,
// the floor's setup exactly: the gap between the two minisentry rows is
// what the tracer's migrations between CPUs cost. (inject and fault show
// the same.)
func (b *bench) sysemu() error {
	n := b.cfg.calls
	sentry := func() (float64, error) { return sentryGetppid(b.p, n) }
	m, err := b.medians(
		b.floorRun(n, true),
		onSentry(sentry),
		b.floorRun(max(n/10, 10), false),
		onPinnedSentry(sentry),
		func() (float64, error) { return nativeGetppid(n) },
	)
	if err != nil {
		return err
	}
	floor, free, unpinned, pinned, native := m[0].med, m[1].med, m[2].med, m[3].med, m[4].med
	// The platform's floor is measured with the platform's number of
	// calls; it replaces the getppid case's for the models below.
	b.floorNS = floor
	b.rows = append(b.rows,
		platformRow("sysemu", "platform: emulated syscall round trip", native, floor, free, false),
		platformRow("sysemu", "  vs floor unpinned", none, unpinned, free, false),
		platformRow("sysemu", "  sentry thread pinned too", none, floor, pinned, false),
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
	free, pinned, control, native := m[0].med, m[1].med, m[2].med, m[3].med
	floor := b.model(1, native)
	modelled := floor != none
	b.rows = append(b.rows,
		platformRow("inject", "platform: injected mmap, own stub thread", native, floor, free, modelled),
		platformRow("inject", "  sentry thread pinned too", native, floor, pinned, modelled),
		platformRow("inject", "  via the control goroutine", native, floor, control, modelled),
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
	free, pinned, touch, mmap := m[0].med, m[1].med, m[2].med, m[3].med
	floor := b.model(2, touch+mmap)
	modelled := floor != none
	b.rows = append(b.rows,
		platformRow("fault", "platform: page fault, one page mapped", touch, floor, free, modelled),
		platformRow("fault", "  sentry thread pinned too", touch, floor, pinned, modelled),
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
		platformRow("space", "platform: new address space", none, none, m[0].med, false),
		platformRow("space", "  new address space + release", none, none, m[1].med, false),
	)
	return nil
}
