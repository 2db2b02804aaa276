package loader

import (
	"context"
	"debug/elf"
	"fmt"

	"github.com/minisentry/minisentry/mm"
	"github.com/minisentry/minisentry/usermem"
)

// loadedImage is a program once its segments are mapped: its addresses,
// with the load bias added.
type loadedImage struct {
	// bias is what was added to the file's addresses: 0 for ET_EXEC.
	bias uint64
	// entry is the entry point.
	entry usermem.Addr
	// phdr is the address of the program headers, or 0 if they are not
	// in memory.
	phdr usermem.Addr
	// phnum is the number of program headers.
	phnum int
	// end is one past the last byte of the last segment.
	end usermem.Addr
}

// mapImage maps the segments info describes from f into m, and returns
// where they went.
//
// Preconditions: m is empty; info came from ParseELF without error.
func mapImage(ctx context.Context, m *mm.MemoryManager, f File, info *ELFInfo) (loadedImage, error) {
	// ParseELF checked that the segments ascend without overlapping and
	// end below taskSize: the first starts lowest, and nothing here can
	// wrap. The image ends where the highest segment does, empty ones
	// included, as Linux computes the start of the heap.
	var end uint64
	for _, s := range info.Segments {
		end = max(end, s.End())
	}
	lo := usermem.PageRoundDown(info.Segments[0].Vaddr)
	hi, _ := usermem.PageRoundUp(end)

	var bias uint64
	if info.Type == elf.ET_DYN {
		var err error
		if bias, err = chooseBias(ctx, m, lo, hi, info.Align); err != nil {
			return loadedImage{}, err
		}
	}
	// This checks an ET_EXEC program's own addresses; an ET_DYN one lies
	// where its placeholder was, inside the layout.
	layout := m.Layout()
	if lo+bias < uint64(layout.MinAddr) || hi+bias > uint64(layout.MaxAddr) || hi+bias < lo+bias {
		return loadedImage{}, notExec("the image [%#x, %#x) does not fit in the address space [%#x, %#x)", lo+bias, hi+bias, layout.MinAddr, layout.MaxAddr)
	}
	img := loadedImage{
		bias:  bias,
		entry: usermem.Addr(info.Entry + bias),
		phnum: info.Phnum,
		end:   usermem.Addr(end + bias),
	}
	// Linux refuses an entry point outside the user address range too.
	if img.entry >= layout.MaxAddr {
		return loadedImage{}, notExec("entry point %#x is outside the address space", img.entry)
	}
	if info.Phdr != 0 {
		img.phdr = usermem.Addr(info.Phdr + bias)
	}

	var mapped usermem.Addr // the end of the pages mapped so far
	for i, s := range info.Segments {
		if s.Memsz == 0 {
			continue
		}
		var err error
		if mapped, err = mapSegment(ctx, m, f, s, bias, mapped); err != nil {
			return loadedImage{}, fmt.Errorf("loader: PT_LOAD %d at %#x: %w", i, s.Vaddr+bias, err)
		}
	}
	return img, nil
}

// chooseBias picks the load bias of a position-independent program whose
// pages span [lo, hi) before relocation, with its segments aligned to
// align.
//
// Like gVisor, and like Linux for a PIE with an interpreter, it aims at
// two thirds of the address space, far above where small ET_EXEC programs
// sit and far below the stack, leaving the program's heap room to grow.
// There is no randomisation, as for the rest of minisentry's layout. To
// find out whether the room is free, it maps the image's size there
// (anywhere else if it is not) and unmaps it again; the segments then go
// to the same place.
//
// Preconditions: m is empty; lo and hi are page-aligned, lo < hi <=
// taskSize; align is a power of two, at least a page and at most maxAlign.
func chooseBias(ctx context.Context, m *mm.MemoryManager, lo, hi, align uint64) (uint64, error) {
	// Asking for align-PageSize more bytes leaves room to align the start.
	length := hi - lo + align - usermem.PageSize
	hint := uint64(m.Layout().MaxAddr) / 3 * 2 &^ (align - 1)
	addr, err := m.MMap(ctx, mm.MMapOpts{
		Length:  length,
		Addr:    usermem.Addr(hint),
		Private: true,
		Perms:   usermem.NoAccess,
	})
	if err != nil {
		return 0, fmt.Errorf("loader: no room for a position-independent image of %#x bytes: %w", hi-lo, err)
	}
	if err := m.MUnmap(ctx, addr, length); err != nil {
		return 0, fmt.Errorf("loader: releasing the room reserved for the image: %w", err)
	}
	return alignUp(uint64(addr), align) - lo, nil
}

// mapSegment maps the segment s, moved by bias, from f into m, and returns
// the end of the pages mapped so far, given mapped, that end before s.
//
// The file's bytes become a private file mapping, so that they are read
// in only when touched; the rest of the file's last page past the segment's
// file bytes is zeroed if the segment has a bss, since the page holds
// whatever follows in the file; the rest of the bss is anonymous memory.
//
// Two segments can share a page: one may end, and the next start, in the
// middle of it. The bytes of s in such a page are copied or zeroed in
// place, rather than mapped over the end of the segment before (which
// Linux does, losing that segment's bss zeros); the page keeps the
// permissions of the segment that mapped it first.
//
// Preconditions: segments are mapped in ascending order; s.Vaddr+bias is
// at or past the end of the previous segment; the whole image lies inside
// m's layout; bias is page-aligned; s.Memsz > 0.
func mapSegment(ctx context.Context, m *mm.MemoryManager, f File, s Segment, bias uint64, mapped usermem.Addr) (usermem.Addr, error) {
	start := usermem.Addr(s.Vaddr + bias)
	fileEnd := start + usermem.Addr(s.Filesz)
	memEnd := start + usermem.Addr(s.Memsz)
	pageEnd := memEnd.MustRoundUp()
	hasBSS := s.Memsz > s.Filesz
	writeAnyway := usermem.IOOpts{IgnorePermissions: true}

	// The part of s in a page that an earlier segment mapped: its file
	// bytes are copied in, and the rest of the page zeroed if s has a
	// bss, as for a page of its own below.
	if start < mapped {
		if n := min(fileEnd, mapped) - start; n > 0 {
			buf := make([]byte, n)
			if err := readFull(f, buf, int64(s.Offset)); err != nil {
				return 0, err
			}
			if _, err := m.CopyOut(ctx, start, buf, writeAnyway); err != nil {
				return 0, err
			}
		}
		if hasBSS && fileEnd < mapped {
			if _, err := m.ZeroOut(ctx, fileEnd, int64(mapped-fileEnd), writeAnyway); err != nil {
				return 0, err
			}
		}
	}
	next := max(start.RoundDown(), mapped)

	// The pages that hold file bytes. A segment without any is all bss,
	// anonymous from its first page, as on Linux.
	if s.Filesz > 0 && fileEnd > next {
		fileMapEnd := fileEnd.MustRoundUp()
		// p_offset and p_vaddr sit at the same place in their pages
		// (ParseELF checked), so this offset is page-aligned.
		off := s.Offset - start.PageOffset() + uint64(next-start.RoundDown())
		if _, err := m.MMap(ctx, mm.MMapOpts{
			Length:   uint64(fileMapEnd - next),
			Offset:   off,
			Addr:     next,
			Fixed:    true,
			Private:  true,
			Perms:    s.Perms,
			MaxPerms: usermem.AnyAccess,
			Mappable: f,
		}); err != nil {
			return 0, err
		}
		if hasBSS && fileEnd < fileMapEnd {
			// Write with IgnorePermissions: a read-only or
			// execute-only segment can have a bss too.
			if _, err := m.ZeroOut(ctx, fileEnd, int64(fileMapEnd-fileEnd), writeAnyway); err != nil {
				return 0, err
			}
		}
		next = fileMapEnd
	}

	// The pages of the bss past the file's. Like Linux's vm_brk, they are
	// always readable and writable, and executable if the segment is.
	if pageEnd > next {
		perms := usermem.ReadWrite
		perms.Execute = s.Perms.Execute
		if _, err := m.MMap(ctx, mm.MMapOpts{
			Length:   uint64(pageEnd - next),
			Addr:     next,
			Fixed:    true,
			Private:  true,
			Perms:    perms,
			MaxPerms: usermem.AnyAccess,
		}); err != nil {
			return 0, err
		}
	}
	return max(mapped, pageEnd), nil
}
