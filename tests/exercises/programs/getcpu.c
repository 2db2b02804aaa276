/*
 * getcpu: getcpu(2), which tells a thread which CPU and which NUMA node it
 * is running on. Exercise 1 of docs/coursework.md: minisentry answers
 * ENOSYS until it is done.
 *
 * The CPU may change between two calls (the scheduler moves threads), so
 * the program never prints a CPU number: it checks that each answer is one
 * of the CPUs the process may run on.
 */
#include "check.h"

#include <sched.h>
#include <sys/mman.h>

static cpu_set_t allowed;

/* allowed_cpu reports whether cpu is one of the process's CPUs. */
static int allowed_cpu(unsigned cpu)
{
	return cpu < CPU_SETSIZE && CPU_ISSET(cpu, &allowed);
}

/* a_node reports whether node is a NUMA node of this machine: node 0 on a
 * kernel without NUMA, which has no /sys/devices/system/node. */
static int a_node(unsigned node)
{
	char path[64];
	if (access("/sys/devices/system/node", F_OK) != 0)
		return node == 0;
	snprintf(path, sizeof path, "/sys/devices/system/node/node%u", node);
	return access(path, F_OK) == 0;
}

int main(void)
{
	begin();
	CHECK(sched_getaffinity(0, sizeof allowed, &allowed) == 0);

	unsigned cpu = ~0u, node = ~0u;
	EXPECT_RET(syscall(SYS_getcpu, &cpu, &node, NULL), 0);
	CHECK(allowed_cpu(cpu));
	CHECK(a_node(node));

	/* Either pointer may be NULL: the caller asks for what it wants. */
	EXPECT_RET(syscall(SYS_getcpu, NULL, NULL, NULL), 0);
	cpu = ~0u;
	EXPECT_RET(syscall(SYS_getcpu, &cpu, NULL, NULL), 0);
	CHECK(allowed_cpu(cpu));
	node = ~0u;
	EXPECT_RET(syscall(SYS_getcpu, NULL, &node, NULL), 0);
	CHECK(a_node(node));

	/* The third argument, a cache, has been ignored since Linux 2.6.24,
	 * even when it points nowhere. */
	EXPECT_RET(syscall(SYS_getcpu, &cpu, &node, ptr(8)), 0);

	/* Memory the program may not write is EFAULT, for either pointer. */
	EXPECT_ERR(syscall(SYS_getcpu, ptr(8), NULL, NULL), EFAULT);
	EXPECT_ERR(syscall(SYS_getcpu, NULL, ptr(8), NULL), EFAULT);
	unsigned *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(ro != MAP_FAILED);
	EXPECT_ERR(syscall(SYS_getcpu, ro, NULL, NULL), EFAULT);

	/* Linux stores the CPU before it tries the node: a bad node pointer
	 * fails the call, but the CPU is there. */
	cpu = ~0u;
	EXPECT_ERR(syscall(SYS_getcpu, &cpu, ptr(8), NULL), EFAULT);
	CHECK(allowed_cpu(cpu));

	/* sched_getcpu(3) asks getcpu when the C library has no faster way
	 * (no vDSO, no rseq area: the case under minisentry). */
	int c = sched_getcpu();
	CHECK(c >= 0 && allowed_cpu(c));
	return finish();
}
