/*
 * compat32: runs a little 32-bit code, as emulators do: a far return to
 * the host's 32-bit user code segment, a store to a page never touched
 * (the fault that maps it is served in 32-bit mode and the program goes
 * on there), and a far return back to 64-bit mode. Then a signal handler
 * that returns with the 32-bit segment in its frame makes the program
 * fault, in 32-bit mode, on its next instruction; that SIGSEGV's handler
 * runs in 64-bit mode and sees the 32-bit segment in its frame.
 *
 * Built as static, non-PIE programs only: the 32-bit code uses absolute
 * addresses below 4 GiB.
 */
#include "check.h"

#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <ucontext.h>

/* The selectors of Linux's x86-64 GDT (asm/segment.h). */
#define USER32_CS 0x23
#define USER_DS 0x2b

uint64_t compat_saved_rsp;
volatile uint32_t compat_target, compat_result;

/*
 * compat_run(stack): switch to 32-bit mode on stack (below 4 GiB), store
 * 0x12345678 at compat_target and read it back into compat_result, and
 * come back. The callee-saved registers are saved on the 64-bit stack.
 */
void compat_run(void *stack);
__asm__(".text\n"
	"compat_run:\n"
	"	push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
	"	mov %rsp, compat_saved_rsp(%rip)\n"
	"	mov %rdi, %rsp\n"
	"	pushq $0x23\n" /* USER32_CS */
	"	pushq $compat_code\n"
	"	lretq\n"
	".code32\n"
	"compat_code:\n"
	"	mov $0x2b, %ax\n" /* USER_DS */
	"	mov %ax, %ds\n"
	"	mov %ax, %es\n"
	"	mov compat_target, %ebx\n"
	"	movl $0x12345678, (%ebx)\n"
	"	mov (%ebx), %eax\n"
	"	mov %eax, compat_result\n"
	"	pushl $0x33\n" /* USER_CS */
	"	pushl $compat_back\n"
	"	lret\n"
	".code64\n"
	"compat_back:\n"
	"	mov compat_saved_rsp(%rip), %rsp\n"
	"	pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
	"	ret\n");

static void to_32bit(int sig, siginfo_t *si, void *ucp)
{
	(void)sig, (void)si;
	ucontext_t *uc = ucp;
	uc->uc_mcontext.gregs[REG_CSGSFS] = (uc->uc_mcontext.gregs[REG_CSGSFS] & ~0xffffL) | USER32_CS;
}

static void segv(int sig, siginfo_t *si, void *ucp)
{
	(void)sig, (void)si;
	ucontext_t *uc = ucp;
	uint16_t cs;
	__asm__("mov %%cs, %0" : "=r"(cs));
	printf("SIGSEGV after returning to 32-bit code: the frame's segment is the 32-bit one %s, the handler's the 64-bit one %s\n",
	       (uc->uc_mcontext.gregs[REG_CSGSFS] & 0xffff) == USER32_CS ? "yes" : "no", cs != USER32_CS ? "yes" : "no");
	fflush(stdout);
	_exit(0);
}

int main(void)
{
	begin();
	char *stack = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	char *data = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	CHECK(stack != MAP_FAILED && data != MAP_FAILED);
	memset(stack, 0, 65536);
	compat_target = (uint32_t)(uintptr_t)(data + (40 << 20));
	compat_run(stack + 65536 - 64);
	printf("32-bit code stored and read 0x%x in a page it faulted in\n", compat_result);

	static char alt[65536];
	stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
	sigaltstack(&ss, NULL);
	struct sigaction sa = {0};
	sa.sa_sigaction = segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGSEGV, &sa, NULL);
	sa.sa_sigaction = to_32bit;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	fflush(stdout);
	raise(SIGUSR1);
	printf("FAIL: 64-bit code ran on in 32-bit mode\n");
	return 1;
}
