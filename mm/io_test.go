package mm

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/minisentry/minisentry/usermem"
)

func TestIOAccessOK(t *testing.T) {
	mm, _ := newTestMM(t)
	top := mm.Layout().MaxAddr
	for _, tc := range []struct {
		addr   usermem.Addr
		length int
		err    error
	}{
		{0, 0, nil},
		{top, 0, nil},
		{top + 1, 0, unix.EFAULT},
		{^usermem.Addr(0), 0, unix.EFAULT},
		{^usermem.Addr(0) - 1, 4, unix.EFAULT},
		{top - 1, 2, unix.EFAULT},
		{testMinAddr, 1, unix.EFAULT}, // nothing mapped
	} {
		buf := make([]byte, tc.length)
		if n, err := mm.CopyOut(ctx, tc.addr, buf, usermem.IOOpts{}); n != 0 || err != tc.err {
			t.Errorf("CopyOut(%#x, %d): got (%d, %v), wanted (0, %v)", tc.addr, tc.length, n, err, tc.err)
		}
		if n, err := mm.CopyIn(ctx, tc.addr, buf, usermem.IOOpts{IgnorePermissions: true}); n != 0 || err != tc.err {
			t.Errorf("CopyIn(%#x, %d): got (%d, %v), wanted (0, %v)", tc.addr, tc.length, n, err, tc.err)
		}
		if n, err := mm.ZeroOut(ctx, tc.addr, int64(tc.length), usermem.IOOpts{}); n != 0 || err != tc.err {
			t.Errorf("ZeroOut(%#x, %d): got (%d, %v), wanted (0, %v)", tc.addr, tc.length, n, err, tc.err)
		}
		if tc.addr+usermem.Addr(tc.length) < tc.addr {
			continue // not a well-formed range, so not a sequence
		}
		ars := usermem.AddrRangeSeqOf(usermem.AddrRange{Start: tc.addr, End: tc.addr + usermem.Addr(tc.length)})
		if n, err := mm.CopyOutFrom(ctx, ars, usermem.FromIOReader(bytes.NewReader(buf)), usermem.IOOpts{}); n != 0 || err != tc.err {
			t.Errorf("CopyOutFrom(%v): got (%d, %v), wanted (0, %v)", ars, n, err, tc.err)
		}
	}
	if n, err := mm.ZeroOut(ctx, testMinAddr, -1, usermem.IOOpts{}); n != 0 || err != unix.EINVAL {
		t.Errorf("ZeroOut of a negative length: got (%d, %v), wanted (0, EINVAL)", n, err)
	}
}

func TestIOPartial(t *testing.T) {
	mm, _ := newTestMM(t)
	const a = 0x10000000
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a + 0x1000, Fixed: true, Private: true, Perms: usermem.Read})
	// a+0x2000 is a hole.
	data := bytes.Repeat([]byte("0123456789abcdef"), 0x300)

	// A write stops at the read-only page.
	if n, err := mm.CopyOut(ctx, a+0x800, data[:0x1000], usermem.IOOpts{}); n != 0x800 || err != unix.EFAULT {
		t.Errorf("CopyOut into a read-only page: got (%#x, %v), wanted (0x800, EFAULT)", n, err)
	}
	if n, err := mm.ZeroOut(ctx, a+0xff0, 0x20, usermem.IOOpts{}); n != 0x10 || err != unix.EFAULT {
		t.Errorf("ZeroOut into a read-only page: got (%#x, %v), wanted (0x10, EFAULT)", n, err)
	}
	// Ignoring permissions, it stops at the hole.
	if n, err := mm.CopyOut(ctx, a+0x800, data[:0x2000], usermem.IOOpts{IgnorePermissions: true}); n != 0x1800 || err != unix.EFAULT {
		t.Errorf("CopyOut ignoring permissions into a hole: got (%#x, %v), wanted (0x1800, EFAULT)", n, err)
	}
	// A read stops at the hole, and has read everything before it.
	got := make([]byte, 0x2000)
	if n, err := mm.CopyIn(ctx, a+0x800, got, usermem.IOOpts{}); n != 0x1800 || err != unix.EFAULT {
		t.Errorf("CopyIn across a hole: got (%#x, %v), wanted (0x1800, EFAULT)", n, err)
	}
	if !bytes.Equal(got[:0x1800], data[:0x1800]) {
		t.Errorf("CopyIn across a hole read the wrong bytes")
	}
	check(t, mm)
}

// recordingReader fills the blocks it gets with its data, and remembers
// them.
type recordingReader struct {
	data   []byte
	calls  int
	blocks usermem.BlockSeq
	// short makes it fill only that many bytes.
	short int
	err   error
}

func (r *recordingReader) ReadToBlocks(dsts usermem.BlockSeq) (uint64, error) {
	r.calls++
	r.blocks = dsts
	src := r.data
	if r.short > 0 {
		src = src[:r.short]
	}
	return usermem.CopySeq(dsts, usermem.BlockSeq{src}), r.err
}

func TestCopyOutFrom(t *testing.T) {
	mm, _ := newTestMM(t)
	const a = 0x10000000
	mustMMap(t, mm, MMapOpts{Length: 0x2000, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	seq := func(ars ...usermem.AddrRange) usermem.AddrRangeSeq { return usermem.AddrRangeSeqFromSlice(ars) }

	// Ranges need not ascend; the reader is called once, with windows
	// onto the application's memory.
	r := &recordingReader{data: []byte("barfoo")}
	n, err := mm.CopyOutFrom(ctx, seq(usermem.AddrRange{Start: a + 4, End: a + 7}, usermem.AddrRange{Start: a + 1, End: a + 4}), r, usermem.IOOpts{})
	if n != 6 || err != nil || r.calls != 1 {
		t.Fatalf("CopyOutFrom: got (%d, %v) in %d calls, wanted (6, nil) in 1", n, err, r.calls)
	}
	if got := mustCopyIn(t, mm, a, 8); string(got) != "\x00foobar\x00" {
		t.Errorf("memory after CopyOutFrom: %q, wanted %q", got, "\x00foobar\x00")
	}
	// Zero copy: the blocks are the memory itself.
	r.blocks[0][0] = 'B'
	if got := mustCopyIn(t, mm, a+4, 1); got[0] != 'B' {
		t.Errorf("the reader's blocks are not the application's memory")
	}

	// A range the application cannot address fails everything at once.
	r = &recordingReader{data: []byte("xxxx")}
	n, err = mm.CopyOutFrom(ctx, seq(usermem.AddrRange{Start: a, End: a + 2}, usermem.AddrRange{Start: testMaxAddr, End: testMaxAddr + 2}), r, usermem.IOOpts{})
	if n != 0 || err != unix.EFAULT || r.calls != 0 {
		t.Errorf("CopyOutFrom with a range past the top: got (%d, %v) in %d calls, wanted (0, EFAULT) in 0", n, err, r.calls)
	}

	// A hole truncates: the reader gets what precedes it.
	r = &recordingReader{data: bytes.Repeat([]byte{'z'}, 0x20)}
	n, err = mm.CopyOutFrom(ctx, seq(usermem.AddrRange{Start: a + 0x1ff8, End: a + 0x2008}, usermem.AddrRange{Start: a, End: a + 0x10}), r, usermem.IOOpts{})
	if n != 8 || err != unix.EFAULT || r.calls != 1 || r.blocks.NumBytes() != 8 {
		t.Errorf("CopyOutFrom into a hole: got (%d, %v) with %d bytes of blocks, wanted (8, EFAULT) with 8", n, err, r.blocks.NumBytes())
	}

	// A short read is returned as is, with the reader's error if any.
	r = &recordingReader{data: []byte("abcdef"), short: 2}
	if n, err := mm.CopyOutFrom(ctx, seq(usermem.AddrRange{Start: a, End: a + 6}), r, usermem.IOOpts{}); n != 2 || err != nil {
		t.Errorf("CopyOutFrom with a short reader: got (%d, %v), wanted (2, nil)", n, err)
	}
	readErr := errors.New("read failed")
	r = &recordingReader{data: []byte("abcdef"), short: 1, err: readErr}
	if n, err := mm.CopyOutFrom(ctx, seq(usermem.AddrRange{Start: a, End: a + 6}), r, usermem.IOOpts{}); n != 1 || err != readErr {
		t.Errorf("CopyOutFrom with a failing reader: got (%d, %v), wanted (1, %v)", n, err, readErr)
	}

	// Nothing to do: no call.
	r = &recordingReader{}
	if n, err := mm.CopyOutFrom(ctx, seq(usermem.AddrRange{Start: a, End: a}), r, usermem.IOOpts{}); n != 0 || err != nil || r.calls != 0 {
		t.Errorf("empty CopyOutFrom: got (%d, %v) in %d calls", n, err, r.calls)
	}
	check(t, mm)
}

func TestCopyInTo(t *testing.T) {
	mm, _ := newTestMM(t)
	const a = 0x10000000
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a, Fixed: true, Private: true, Perms: usermem.Read})
	if n, err := mm.CopyOut(ctx, a, []byte("AfoobarH"), usermem.IOOpts{IgnorePermissions: true}); n != 8 || err != nil {
		t.Fatalf("CopyOut ignoring permissions: (%d, %v)", n, err)
	}
	var buf bytes.Buffer
	calls := 0
	w := usermem.BlockWriterFunc(func(srcs usermem.BlockSeq) (uint64, error) {
		calls++
		return usermem.FromIOWriter(&buf).WriteFromBlocks(srcs)
	})
	ars := usermem.AddrRangeSeqFromSlice([]usermem.AddrRange{{Start: a + 4, End: a + 7}, {Start: a + 1, End: a + 4}})
	if n, err := mm.CopyInTo(ctx, ars, w, usermem.IOOpts{}); n != 6 || err != nil || calls != 1 || buf.String() != "barfoo" {
		t.Errorf("CopyInTo: got (%d, %v, %q) in %d calls, wanted (6, nil, \"barfoo\") in 1", n, err, buf.String(), calls)
	}
	buf.Reset()
	ars = usermem.AddrRangeSeqOf(usermem.AddrRange{Start: a + 0xffc, End: a + 0x1004})
	if n, err := mm.CopyInTo(ctx, ars, w, usermem.IOOpts{}); n != 4 || err != unix.EFAULT {
		t.Errorf("CopyInTo across the end of the mapping: got (%d, %v), wanted (4, EFAULT)", n, err)
	}
}

func TestAtomics(t *testing.T) {
	mm, _ := newTestMM(t)
	const a = 0x10000000
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite})
	mustMMap(t, mm, MMapOpts{Length: 0x1000, Addr: a + 0x1000, Fixed: true, Private: true, Perms: usermem.Read})
	opts := usermem.IOOpts{}
	if old, err := mm.SwapUint32(ctx, a+8, 7, opts); old != 0 || err != nil {
		t.Errorf("SwapUint32: got (%d, %v), wanted (0, nil)", old, err)
	}
	if prev, err := mm.CompareAndSwapUint32(ctx, a+8, 6, 9, opts); prev != 7 || err != nil {
		t.Errorf("CompareAndSwapUint32 that fails: got (%d, %v), wanted (7, nil)", prev, err)
	}
	if prev, err := mm.CompareAndSwapUint32(ctx, a+8, 7, 9, opts); prev != 7 || err != nil {
		t.Errorf("CompareAndSwapUint32 that swaps: got (%d, %v), wanted (7, nil)", prev, err)
	}
	if v, err := mm.LoadUint32(ctx, a+8, opts); v != 9 || err != nil {
		t.Errorf("LoadUint32: got (%d, %v), wanted (9, nil)", v, err)
	}
	if got := mustCopyIn(t, mm, a+8, 4); !cmp.Equal(got, []byte{9, 0, 0, 0}) {
		t.Errorf("memory after the atomics: %v", got)
	}
	for _, tc := range []struct {
		addr usermem.Addr
		err  error
	}{
		{a + 2, unix.EINVAL},
		{a + 0x1000, unix.EFAULT}, // read-only: no swap
		{a + 0x2000, unix.EFAULT}, // hole
		{testMaxAddr - 4 + 4, unix.EFAULT},
		{^usermem.Addr(3), unix.EFAULT},
	} {
		if _, err := mm.SwapUint32(ctx, tc.addr, 1, opts); err != tc.err {
			t.Errorf("SwapUint32(%#x): got %v, wanted %v", tc.addr, err, tc.err)
		}
		if _, err := mm.CompareAndSwapUint32(ctx, tc.addr, 0, 1, opts); err != tc.err {
			t.Errorf("CompareAndSwapUint32(%#x): got %v, wanted %v", tc.addr, err, tc.err)
		}
	}
	if v, err := mm.LoadUint32(ctx, a+0x1000, opts); v != 0 || err != nil {
		t.Errorf("LoadUint32 of a read-only page: got (%d, %v), wanted (0, nil)", v, err)
	}
	if _, err := mm.LoadUint32(ctx, a+0x1001, opts); err != unix.EINVAL {
		t.Errorf("LoadUint32 unaligned: got %v, wanted EINVAL", err)
	}
}

func TestPrivateFileMapping(t *testing.T) {
	mm, p := newTestMM(t)
	data := bytes.Repeat([]byte("ELF!"), 0x600) // 0x1800 bytes
	file := &testFile{data: data}
	const a = 0x400000
	rx := usermem.AccessType{Read: true, Execute: true}
	mustMMap(t, mm, MMapOpts{Length: 0x3000, Addr: a, Fixed: true, Private: true, Perms: rx, Mappable: file})

	// The file's bytes, then zeros to the end of the last page.
	got := make([]byte, 0x3000)
	if n, err := mm.CopyIn(ctx, a, got, usermem.IOOpts{}); n != 0x2000 || err != unix.EFAULT {
		t.Errorf("CopyIn of the mapping: got (%#x, %v), wanted (0x2000, EFAULT): the third page is beyond the file", n, err)
	}
	if !bytes.Equal(got[:0x1800], data) || !bytes.Equal(got[0x1800:0x2000], make([]byte, 0x800)) {
		t.Errorf("the mapping does not read as the file followed by zeros")
	}
	if err := mm.HandleUserFault(ctx, a+0x2000, usermem.Read); err != ErrBusError {
		t.Errorf("fault beyond the end of the file: got %v, wanted ErrBusError", err)
	}
	if err := mm.HandleUserFault(ctx, a+0x1fff, usermem.Execute); err != nil {
		t.Errorf("fault on the file's last page: %v", err)
	}
	if err := mm.HandleUserFault(ctx, a, usermem.Write); err != unix.EPERM {
		t.Errorf("write fault on a read-only file mapping: got %v, wanted EPERM", err)
	}

	// The loader zeroes the tail of the last file page even though the
	// segment is read-only; the file itself does not change.
	if n, err := mm.ZeroOut(ctx, a+0x17f0, 0x10, usermem.IOOpts{IgnorePermissions: true}); n != 0x10 || err != nil {
		t.Errorf("ZeroOut ignoring permissions: got (%#x, %v), wanted (0x10, nil)", n, err)
	}
	if got := mustCopyIn(t, mm, a+0x17e0, 0x20); !bytes.Equal(got, append(data[0x17e0:0x17f0:0x17f0], make([]byte, 0x10)...)) {
		t.Errorf("after ZeroOut: %q", got)
	}
	if !bytes.Equal(file.data, bytes.Repeat([]byte("ELF!"), 0x600)) {
		t.Errorf("writing a private mapping changed the file")
	}

	// An offset into the file.
	b := mustMMap(t, mm, MMapOpts{Length: 0x1000, Offset: 0x1000, Private: true, Perms: usermem.Read, Mappable: file})
	if got := mustCopyIn(t, mm, b, 8); !bytes.Equal(got, data[0x1000:0x1008]) {
		t.Errorf("mapping at offset 0x1000 reads %q, wanted %q", got, data[0x1000:0x1008])
	}
	// A mapping wholly beyond the end of the file.
	c := mustMMap(t, mm, MMapOpts{Length: 0x1000, Offset: 0x2000, Private: true, Perms: usermem.Read, Mappable: file})
	if err := mm.HandleUserFault(ctx, c, usermem.Read); err != ErrBusError {
		t.Errorf("fault in a mapping beyond the file: got %v, wanted ErrBusError", err)
	}
	// A file whose size cannot be read.
	d := mustMMap(t, mm, MMapOpts{Length: 0x1000, Private: true, Perms: usermem.Read, Mappable: &testFile{data: data, sizeErr: io.ErrUnexpectedEOF}})
	if err := mm.HandleUserFault(ctx, d, usermem.Read); err != ErrBusError {
		t.Errorf("fault in a file whose size fails: got %v, wanted ErrBusError", err)
	}
	// Writable private file mappings are copy-on-write of the file: no
	// write reaches it.
	e := mustMMap(t, mm, MMapOpts{Length: 0x2000, Private: true, Perms: usermem.ReadWrite, Mappable: file})
	mustCopyOut(t, mm, e+4, []byte("elf?"))
	if got := mustCopyIn(t, mm, e, 8); string(got) != "ELF!elf?" || !bytes.Equal(file.data[:8], []byte("ELF!ELF!")) {
		t.Errorf("writable private file mapping reads %q, file %q", got, file.data[:8])
	}
	check(t, mm)
	mm.DecUsers(ctx)
	if got := p.mf.Usage(); got != 0 {
		t.Errorf("Usage after the last user: %#x", got)
	}
}

func TestMappableReferences(t *testing.T) {
	mm, _ := newTestMM(t)
	file := &refFile{testFile: testFile{data: make([]byte, 0x4000)}}
	const a = 0x400000
	mustMMap(t, mm, MMapOpts{Length: 0x3000, Addr: a, Fixed: true, Private: true, Perms: usermem.ReadWrite, Mappable: file})
	if got := file.refs.Load(); got != 1 {
		t.Errorf("after MMap: %d references, wanted 1", got)
	}
	if err := mm.MProtect(a+0x1000, 0x1000, usermem.Read, false); err != nil {
		t.Fatalf("MProtect: %v", err)
	}
	if got := file.refs.Load(); got != 3 {
		t.Errorf("after splitting the vma in three: %d references, wanted 3", got)
	}
	child, err := mm.Fork(ctx)
	if err != nil {
		t.Fatalf("Fork: %v", err)
	}
	if got := file.refs.Load(); got != 6 {
		t.Errorf("after Fork: %d references, wanted 6", got)
	}
	if _, err := mm.MRemap(ctx, a, 0x1000, 0x2000, MRemapOpts{Move: MRemapMayMove}); err != nil {
		t.Fatalf("MRemap: %v", err)
	}
	if err := mm.MProtect(a+0x1000, 0x1000, usermem.ReadWrite, false); err != nil {
		t.Fatalf("MProtect: %v", err)
	}
	if got := file.refs.Load(); got != 5 {
		t.Errorf("after a move and a merge: %d references, wanted 5 (2 here, 3 in the child)", got)
	}
	child.DecUsers(ctx)
	mm.DecUsers(ctx)
	if got := file.refs.Load(); got != 0 {
		t.Errorf("after both exited: %d references, wanted 0", got)
	}
}
