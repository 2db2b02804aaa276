package fs

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

// pattern returns n bytes that differ from their neighbours, so that lost,
// repeated or reordered bytes show.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

// write writes data to w as a write(2) would.
func write(ctx context.Context, w *PipeFile, data []byte) (int64, error) {
	return w.Write(ctx, usermem.BytesIOSequence(data), -1)
}

// read reads up to n bytes from r as a read(2) would.
func read(ctx context.Context, r *PipeFile, n int) ([]byte, error) {
	buf := make([]byte, n)
	got, err := r.Read(ctx, usermem.BytesIOSequence(buf), -1)
	return buf[:got], err
}

// waitForWaiter returns once a reader (or, with write, a writer) of r's
// pipe waits, so that a test can act on a blocked read or write knowing it
// blocked.
func waitForWaiter(t *testing.T, f *PipeFile, write bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.p.mu.Lock()
		waiting := f.p.readWait != nil
		if write {
			waiting = f.p.writeWait != nil
		}
		f.p.mu.Unlock()
		if waiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no waiter (write=%v) after 10s", write)
		}
		time.Sleep(time.Millisecond)
	}
}

// result is what a read or write in a goroutine returned.
type result struct {
	n    int64
	data []byte
	err  error
}

func TestPipeReadWrite(t *testing.T) {
	ctx := context.Background()
	// An op writes write bytes, or reads up to read bytes and expects
	// want.
	type op struct{ write, read, want int }
	for _, tc := range []struct {
		name string
		ops  []op
	}{
		{name: "one write one read", ops: []op{{write: 10}, {read: 10, want: 10}}},
		{name: "read gets what is there", ops: []op{{write: 10}, {read: 100, want: 10}}},
		{name: "short reads", ops: []op{{write: 10}, {read: 3, want: 3}, {read: 3, want: 3}, {read: 3, want: 3}, {read: 3, want: 1}}},
		{name: "writes merge", ops: []op{{write: 5}, {write: 6}, {write: 7}, {read: 100, want: 18}}},
		{name: "full pipe", ops: []op{{write: PipeCapacity}, {read: PipeCapacity + 1, want: PipeCapacity}}},
		// The third write goes in across the end of the ring, and the
		// last read comes out across it.
		{name: "wrap around", ops: []op{{write: 40000}, {write: 20000}, {read: 50000, want: 50000}, {write: 30000}, {read: 50000, want: 40000}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w := NewPipe(1, 2)
			var written, got []byte
			for i, op := range tc.ops {
				if op.write > 0 {
					data := pattern(op.write, byte(i))
					n, err := write(ctx, w, data)
					if err != nil || n != int64(len(data)) {
						t.Fatalf("op %d: write: got (%d, %v), want (%d, nil)", i, n, err, len(data))
					}
					written = append(written, data...)
					continue
				}
				data, err := read(ctx, r, op.read)
				if err != nil || len(data) != op.want {
					t.Fatalf("op %d: read: got (%d bytes, %v), want (%d bytes, nil)", i, len(data), err, op.want)
				}
				got = append(got, data...)
			}
			if !bytes.Equal(got, written[:len(got)]) {
				t.Errorf("data read differs from data written")
			}
		})
	}
}

func TestPipeZeroLength(t *testing.T) {
	ctx := context.Background()
	r, w := NewPipe(0, 0)
	// Neither waits, though the pipe is empty.
	if n, err := r.Read(ctx, usermem.BytesIOSequence(nil), -1); n != 0 || err != nil {
		t.Errorf("empty read: got (%d, %v), want (0, nil)", n, err)
	}
	r.Close()
	// Linux lets a null write succeed even without a reader.
	if n, err := w.Write(ctx, usermem.BytesIOSequence(nil), -1); n != 0 || err != nil {
		t.Errorf("empty write: got (%d, %v), want (0, nil)", n, err)
	}
}

func TestPipeEOF(t *testing.T) {
	ctx := context.Background()
	r, w := NewPipe(0, 0)
	if _, err := write(ctx, w, []byte("left")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// What was written is still read, then end of file, again and again.
	for i, want := range []string{"left", "", ""} {
		data, err := read(ctx, r, 10)
		if err != nil || string(data) != want {
			t.Errorf("read %d: got (%q, %v), want (%q, nil)", i, data, err, want)
		}
	}
}

func TestPipeEPIPE(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		size int
	}{
		{name: "small", size: 1},
		{name: "large", size: 3 * PipeCapacity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w := NewPipe(0, 0)
			r.Close()
			if n, err := write(ctx, w, make([]byte, tc.size)); n != 0 || err != unix.EPIPE {
				t.Errorf("got (%d, %v), want (0, EPIPE)", n, err)
			}
		})
	}
}

func TestPipeNonBlocking(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// fill is written (blocking) first; then the end under test
		// gets O_NONBLOCK.
		fill int
		// readEnd tests a read of size, else a write of size.
		readEnd bool
		size    int
		wantN   int64
		wantErr error
	}{
		{name: "read empty", readEnd: true, size: 10, wantErr: unix.EAGAIN},
		{name: "read some", fill: 5, readEnd: true, size: 10, wantN: 5},
		{name: "write full", fill: PipeCapacity, size: 1, wantErr: unix.EAGAIN},
		// An atomic write that does not fit whole does not go in.
		{name: "write atomic no room", fill: PipeCapacity - 100, size: 101, wantErr: unix.EAGAIN},
		{name: "write atomic room", fill: PipeCapacity - 100, size: 100, wantN: 100},
		// A long write fills the pipe and returns the count.
		{name: "write long partial", fill: 10000, size: PipeCapacity, wantN: PipeCapacity - 10000},
		// ...but only with PipeBuf bytes of room, as Linux.
		{name: "write long little room", fill: PipeCapacity - 100, size: 2 * PipeBuf, wantErr: unix.EAGAIN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w := NewPipe(0, 0)
			if tc.fill > 0 {
				if _, err := write(ctx, w, make([]byte, tc.fill)); err != nil {
					t.Fatal(err)
				}
			}
			var n int64
			var err error
			if tc.readEnd {
				r.SetStatusFlags(unix.O_NONBLOCK)
				var data []byte
				data, err = read(ctx, r, tc.size)
				n = int64(len(data))
			} else {
				w.SetStatusFlags(unix.O_NONBLOCK)
				n, err = write(ctx, w, make([]byte, tc.size))
			}
			if n != tc.wantN || err != tc.wantErr {
				t.Errorf("got (%d, %v), want (%d, %v)", n, err, tc.wantN, tc.wantErr)
			}
		})
	}
}

func TestPipeAtomicWrites(t *testing.T) {
	ctx := context.Background()
	r, w := NewPipe(0, 0)
	// Writer i writes records of sizes[i] bytes, each byte i+1. Together
	// they write several pipefuls, so most writes wait for room.
	sizes := []int{1, 100, 1000, 4000, PipeBuf, PipeBuf - 1, 3000, 17}
	const records = 200
	var wg sync.WaitGroup
	for i, size := range sizes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := bytes.Repeat([]byte{byte(i + 1)}, size)
			for range records {
				if n, err := write(ctx, w, rec); n != int64(size) || err != nil {
					t.Errorf("writer %d: got (%d, %v), want (%d, nil)", i, n, err, size)
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		w.Close()
	}()
	// Read with sizes that cut records anywhere.
	var stream []byte
	for i := 0; ; i++ {
		data, err := read(ctx, r, 1+i*997%9000)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 {
			break
		}
		stream = append(stream, data...)
	}
	got := make([]int, len(sizes))
	for len(stream) > 0 {
		id := int(stream[0]) - 1
		if id < 0 || id >= len(sizes) || len(stream) < sizes[id] {
			t.Fatalf("corrupt stream at byte %d", len(stream))
		}
		if bytes.Count(stream[:sizes[id]], stream[:1]) != sizes[id] {
			t.Fatalf("a record of writer %d is interleaved with another write", id)
		}
		stream = stream[sizes[id]:]
		got[id]++
	}
	want := make([]int, len(sizes))
	for i := range want {
		want[i] = records
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records per writer (-want +got):\n%s", diff)
	}
}

func TestPipeLargeWrite(t *testing.T) {
	ctx := context.Background()
	r, w := NewPipe(0, 0)
	data := pattern(5*PipeCapacity+123, 9)
	done := make(chan result)
	go func() {
		n, err := write(ctx, w, data)
		done <- result{n: n, err: err}
	}()
	var got []byte
	for len(got) < len(data) {
		chunk, err := read(ctx, r, 10000)
		if err != nil || len(chunk) == 0 {
			t.Fatalf("read: got (%d bytes, %v)", len(chunk), err)
		}
		got = append(got, chunk...)
	}
	if res := <-done; res.n != int64(len(data)) || res.err != nil {
		t.Errorf("write: got (%d, %v), want (%d, nil)", res.n, res.err, len(data))
	}
	if !bytes.Equal(got, data) {
		t.Errorf("data read differs from data written")
	}
}

func TestPipeBlockingReader(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// wake wakes the blocked reader.
		wake func(w *PipeFile)
		want string
	}{
		{name: "write", wake: func(w *PipeFile) { write(ctx, w, []byte("hello")) }, want: "hello"},
		{name: "close", wake: func(w *PipeFile) { w.Close() }, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w := NewPipe(0, 0)
			done := make(chan result)
			go func() {
				data, err := read(ctx, r, 100)
				done <- result{data: data, err: err}
			}()
			waitForWaiter(t, r, false)
			tc.wake(w)
			if res := <-done; string(res.data) != tc.want || res.err != nil {
				t.Errorf("got (%q, %v), want (%q, nil)", res.data, res.err, tc.want)
			}
		})
	}
}

func TestPipeBlockingWriter(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// wake wakes the blocked writer.
		wake    func(r *PipeFile)
		wantN   int64
		wantErr error
	}{
		{name: "read", wake: func(r *PipeFile) { read(ctx, r, PipeBuf) }, wantN: PipeBuf},
		{name: "close", wake: func(r *PipeFile) { r.Close() }, wantErr: unix.EPIPE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w := NewPipe(0, 0)
			if _, err := write(ctx, w, make([]byte, PipeCapacity)); err != nil {
				t.Fatal(err)
			}
			done := make(chan result)
			go func() {
				n, err := write(ctx, w, make([]byte, PipeBuf))
				done <- result{n: n, err: err}
			}()
			waitForWaiter(t, w, true)
			tc.wake(r)
			if res := <-done; res.n != tc.wantN || res.err != tc.wantErr {
				t.Errorf("got (%d, %v), want (%d, %v)", res.n, res.err, tc.wantN, tc.wantErr)
			}
		})
	}
}

func TestPipeInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name string
		// fill is written before the operation.
		fill int
		// readEnd blocks a read, else a write of size.
		readEnd bool
		size    int
		wantN   int64
	}{
		{name: "read", readEnd: true, size: 10},
		{name: "write", fill: PipeCapacity, size: 10},
		// A long write that moved some bytes returns them.
		{name: "long write", fill: 1000, size: PipeCapacity, wantN: PipeCapacity - 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w := NewPipe(0, 0)
			if _, err := write(context.Background(), w, make([]byte, tc.fill)); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan result)
			go func() {
				var res result
				if tc.readEnd {
					res.data, res.err = read(ctx, r, tc.size)
					res.n = int64(len(res.data))
				} else {
					res.n, res.err = write(ctx, w, make([]byte, tc.size))
				}
				done <- res
			}()
			waitForWaiter(t, r, !tc.readEnd)
			cancel()
			if res := <-done; res.n != tc.wantN || res.err != unix.EINTR {
				t.Errorf("got (%d, %v), want (%d, EINTR)", res.n, res.err, tc.wantN)
			}
		})
	}
}

func TestPipeReadyBeforeCancelled(t *testing.T) {
	// A task with a signal pending still reads data that is there, and
	// only the wait is interrupted.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, w := NewPipe(0, 0)
	if _, err := write(ctx, w, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if data, err := read(ctx, r, 10); string(data) != "x" || err != nil {
		t.Errorf("got (%q, %v), want (\"x\", nil)", data, err)
	}
	if data, err := read(ctx, r, 10); len(data) != 0 || err != unix.EINTR {
		t.Errorf("got (%q, %v), want (\"\", EINTR)", data, err)
	}
}

func TestPipeFault(t *testing.T) {
	ctx := context.Background()
	// faulty returns a sequence of n bytes whose bytes past valid fault.
	faulty := func(n, valid int) usermem.IOSequence {
		return usermem.IOSequence{
			IO:    usermem.BytesIO{Bytes: pattern(valid, 3)},
			Addrs: usermem.AddrRangeSeqOf(usermem.AddrRange{Start: 0, End: usermem.Addr(n)}),
		}
	}
	for _, tc := range []struct {
		name    string
		n       int
		valid   int
		wantN   int64
		wantErr error
		// wantInPipe is how many bytes the write left in the pipe.
		wantInPipe int
	}{
		// A short write goes in whole or not at all.
		{name: "atomic", n: 100, valid: 50, wantErr: unix.EFAULT},
		{name: "long", n: 3 * PipeBuf, valid: 5000, wantN: 5000, wantErr: unix.EFAULT, wantInPipe: 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w := NewPipe(0, 0)
			r.SetStatusFlags(unix.O_NONBLOCK)
			n, err := w.Write(ctx, faulty(tc.n, tc.valid), -1)
			if n != tc.wantN || err != tc.wantErr {
				t.Errorf("write: got (%d, %v), want (%d, %v)", n, err, tc.wantN, tc.wantErr)
			}
			data, _ := read(ctx, r, 2*tc.n)
			if len(data) != tc.wantInPipe {
				t.Errorf("got %d bytes in the pipe, want %d", len(data), tc.wantInPipe)
			}
		})
	}

	// A read that faults keeps what it copied.
	r, w := NewPipe(0, 0)
	if _, err := write(ctx, w, pattern(100, 0)); err != nil {
		t.Fatal(err)
	}
	dst := faulty(100, 30)
	if n, err := r.Read(ctx, dst, -1); n != 30 || err != unix.EFAULT {
		t.Errorf("read: got (%d, %v), want (30, EFAULT)", n, err)
	}
	if data, err := read(ctx, r, 100); !bytes.Equal(data, pattern(100, 0)[30:]) || err != nil {
		t.Errorf("read after fault: got (%d bytes, %v), want (70 bytes, nil)", len(data), err)
	}
}

func TestPipeBadAccess(t *testing.T) {
	ctx := context.Background()
	r, w := NewPipe(0, 0)
	buf := usermem.BytesIOSequence(make([]byte, 10))
	for _, tc := range []struct {
		name string
		op   func() (int64, error)
		want error
	}{
		{name: "pread", op: func() (int64, error) { return r.Read(ctx, buf, 0) }, want: unix.ESPIPE},
		{name: "pwrite", op: func() (int64, error) { return w.Write(ctx, buf, 0) }, want: unix.ESPIPE},
		{name: "read write end", op: func() (int64, error) { return w.Read(ctx, buf, -1) }, want: unix.EBADF},
		{name: "write read end", op: func() (int64, error) { return r.Write(ctx, buf, -1) }, want: unix.EBADF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n, err := tc.op(); n != 0 || err != tc.want {
				t.Errorf("got (%d, %v), want (0, %v)", n, err, tc.want)
			}
		})
	}
}

func TestPipeFIONREAD(t *testing.T) {
	ctx := context.Background()
	r, w := NewPipe(0, 0)
	if _, err := write(ctx, w, make([]byte, 1234)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*PipeFile{r, w} {
		mem := usermem.BytesIO{Bytes: make([]byte, 8)}
		if _, err := f.Ioctl(ctx, mem, unix.TIOCINQ, 4); err != nil {
			t.Fatalf("FIONREAD: %v", err)
		}
		if got := binary.LittleEndian.Uint32(mem.Bytes[4:]); got != 1234 {
			t.Errorf("FIONREAD: got %d, want 1234", got)
		}
	}
	mem := usermem.BytesIO{Bytes: make([]byte, 8)}
	if _, err := r.Ioctl(ctx, mem, unix.TIOCINQ, 6); err != unix.EFAULT {
		t.Errorf("FIONREAD at a bad address: got %v, want EFAULT", err)
	}
	if _, err := r.Ioctl(ctx, mem, unix.TCGETS, 0); err != unix.ENOTTY {
		t.Errorf("TCGETS: got %v, want ENOTTY", err)
	}
}

func TestPipeStat(t *testing.T) {
	r, w := NewPipe(1000, 100)
	r2, _ := NewPipe(1000, 100)
	type stat struct {
		Mode    uint32
		Nlink   uint64
		Uid     uint32
		Gid     uint32
		Size    int64
		Blksize int64
	}
	want := stat{Mode: unix.S_IFIFO | 0600, Nlink: 1, Uid: 1000, Gid: 100, Blksize: 4096}
	var inos []uint64
	for _, f := range []*PipeFile{r, w, r2} {
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		got := stat{Mode: st.Mode, Nlink: st.Nlink, Uid: st.Uid, Gid: st.Gid, Size: st.Size, Blksize: st.Blksize}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Stat (-want +got):\n%s", diff)
		}
		if name, want := f.Name(), fmt.Sprintf("pipe:[%d]", st.Ino); name != want {
			t.Errorf("Name: got %q, want %q", name, want)
		}
		inos = append(inos, st.Ino)
	}
	if inos[0] != inos[1] || inos[0] == inos[2] {
		t.Errorf("inode numbers %v: want the ends of one pipe to share one, and two pipes to differ", inos)
	}
}

func TestPipeStatusFlags(t *testing.T) {
	r, w := NewPipe(0, 0)
	for _, tc := range []struct {
		name    string
		f       *PipeFile
		set     uint32
		wantErr error
		want    uint32
	}{
		{name: "read end", f: r, want: unix.O_RDONLY},
		{name: "write end", f: w, want: unix.O_WRONLY},
		{name: "nonblock", f: w, set: unix.O_NONBLOCK, want: unix.O_WRONLY | unix.O_NONBLOCK},
		// The access mode and creation flags are not status flags.
		{name: "ignored", f: r, set: unix.O_WRONLY | unix.O_CREAT | unix.O_APPEND, want: unix.O_APPEND},
		{name: "clear", f: w, set: 0, want: unix.O_WRONLY},
		{name: "packet mode", f: r, set: unix.O_DIRECT, wantErr: unix.EINVAL, want: unix.O_APPEND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.f.SetStatusFlags(tc.set); err != tc.wantErr {
				t.Errorf("SetStatusFlags(%#x): got %v, want %v", tc.set, err, tc.wantErr)
			}
			if got, _ := tc.f.StatusFlags(); got != tc.want {
				t.Errorf("StatusFlags: got %#x, want %#x", got, tc.want)
			}
		})
	}
}

func TestPipeEvents(t *testing.T) {
	ctx := context.Background()
	r, w := NewPipe(0, 0)
	type events struct{ R, W int16 }
	check := func(step string, want events) {
		t.Helper()
		if diff := cmp.Diff(want, events{R: r.Events(), W: w.Events()}); diff != "" {
			t.Errorf("%s (-want +got):\n%s", step, diff)
		}
	}
	const in, out = unix.POLLIN | PollRdNorm, unix.POLLOUT | PollWrNorm
	check("empty", events{W: out})
	_, changed := r.Readiness()
	write(ctx, w, make([]byte, PipeCapacity-PipeBuf))
	select {
	case <-changed:
	default:
		t.Errorf("the read end's channel stayed open after a write")
	}
	check("room for PipeBuf", events{R: in, W: out})
	write(ctx, w, make([]byte, 1))
	check("less room", events{R: in})
	r.Close()
	check("no reader", events{R: in, W: unix.POLLERR})

	r, w = NewPipe(0, 0)
	w.Close()
	check("no writer", events{R: unix.POLLHUP, W: out})
}

func TestPipeCloseTwice(t *testing.T) {
	r, _ := NewPipe(0, 0)
	r.Close()
	defer func() {
		if recover() == nil {
			t.Errorf("second Close did not panic")
		}
	}()
	r.Close()
}
