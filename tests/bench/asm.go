package main

import "encoding/binary"

// The programs of the platform cases, hand-assembled x86-64 machine code. Each
// starts with a getpid "ready" call: the first Switch, which also creates
// the stub thread, stops there, so timing can begin after it. Each ends
// with exit_group(status), which stays an event for the sentry (the host
// never runs an application syscall).

// Addresses in the application's address space.
const (
	codeAddr = 0x400000   // the program's one page, read+execute
	dataAddr = 0x10000000 // the region the fault program touches
)

// answer is what the sentry returns for every getppid, as the floor does.
const answer = 4242

// getppidLoop calls getppid n times, exiting with status 1 as soon as an
// answer is not 4242, and with 0 after the last.
func getppidLoop(n uint32) []byte {
	code := []byte{
		0xb8, 0x27, 0x00, 0x00, 0x00, // 00: mov eax, SYS_getpid       ready
		0x0f, 0x05, //                   05: syscall
		0x41, 0xbc, 0, 0, 0, 0, //       07: mov r12d, n                 patched below
		0xb8, 0x6e, 0x00, 0x00, 0x00, // 0d: mov eax, SYS_getppid      loop:
		0x0f, 0x05, //                   12: syscall
		0x3d, 0x92, 0x10, 0x00, 0x00, // 14: cmp eax, 4242
		0x75, 0x09, //                   19: jne 24                     wrong answer
		0x41, 0xff, 0xcc, //             1b: dec r12d
		0x75, 0xed, //                   1e: jnz 0d                     loop
		0x31, 0xff, //                   20: xor edi, edi
		0xeb, 0x05, //                   22: jmp 29
		0xbf, 0x01, 0x00, 0x00, 0x00, // 24: mov edi, 1
		0xb8, 0xe7, 0x00, 0x00, 0x00, // 29: mov eax, SYS_exit_group
		0x0f, 0x05, //                   2e: syscall
	}
	binary.LittleEndian.PutUint32(code[0x09:], n)
	return code
}

// touchPages writes one byte to each of n pages from dataAddr up, then
// exits with status 0.
func touchPages(n uint32) []byte {
	code := []byte{
		0xb8, 0x27, 0x00, 0x00, 0x00, // 00: mov eax, SYS_getpid       ready
		0x0f, 0x05, //                   05: syscall
		0x48, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0, // 07: movabs rbx, dataAddr  patched below
		0x41, 0xbc, 0, 0, 0, 0, //       11: mov r12d, n                 patched below
		0xc6, 0x03, 0x01, //             17: mov byte [rbx], 1          loop: faults once
		0x48, 0x81, 0xc3, 0x00, 0x10, 0x00, 0x00, // 1a: add rbx, 4096
		0x41, 0xff, 0xcc, //             21: dec r12d
		0x75, 0xf1, //                   24: jnz 17                     loop
		0x31, 0xff, //                   26: xor edi, edi
		0xb8, 0xe7, 0x00, 0x00, 0x00, // 28: mov eax, SYS_exit_group
		0x0f, 0x05, //                   2d: syscall
	}
	binary.LittleEndian.PutUint64(code[0x09:], dataAddr)
	binary.LittleEndian.PutUint32(code[0x13:], n)
	return code
}

// readyOnly stops at its ready call and then exits: it gives a stub thread
// to a tracer that wants to inject syscalls through it.
func readyOnly() []byte {
	return []byte{
		0xb8, 0x27, 0x00, 0x00, 0x00, // 00: mov eax, SYS_getpid       ready
		0x0f, 0x05, //                   05: syscall
		0x31, 0xff, //                   07: xor edi, edi
		0xb8, 0xe7, 0x00, 0x00, 0x00, // 09: mov eax, SYS_exit_group
		0x0f, 0x05, //                   0e: syscall
	}
}
