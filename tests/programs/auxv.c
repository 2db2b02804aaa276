/*
 * auxv: checks the auxiliary vector the loader built against what the
 * program knows about itself (its ELF header, its entry point, its
 * credentials). It prints booleans only: addresses differ from run to run.
 */
#include "check.h"

#include <elf.h>
#include <link.h>
#include <sys/auxv.h>

/* Defined by the linker: the program's own ELF header, wherever it was
 * loaded (static-PIE binaries are relocated at startup). */
extern const ElfW(Ehdr) __ehdr_start;
extern char _start[];

/* The auxiliary vector on the stack, found by walking past envp. */
static ElfW(auxv_t) *stack_auxv(char **envp)
{
	while (*envp)
		envp++;
	return (ElfW(auxv_t) *)(envp + 1);
}

static int present(ElfW(auxv_t) *auxv, unsigned long type)
{
	for (int i = 0; i < 256 && auxv[i].a_type != AT_NULL; i++)
		if (auxv[i].a_type == type)
			return 1;
	return 0;
}

static unsigned long stack_value(ElfW(auxv_t) *auxv, unsigned long type)
{
	for (int i = 0; i < 256 && auxv[i].a_type != AT_NULL; i++)
		if (auxv[i].a_type == type)
			return auxv[i].a_un.a_val;
	return 0;
}

int main(int argc, char **argv, char **envp)
{
	begin();
	(void)argc;
	ElfW(auxv_t) *auxv = stack_auxv(envp);

	static const struct {
		unsigned long type;
		const char *name;
	} required[] = {
		{AT_PHDR, "AT_PHDR"}, {AT_PHENT, "AT_PHENT"}, {AT_PHNUM, "AT_PHNUM"},
		{AT_PAGESZ, "AT_PAGESZ"}, {AT_BASE, "AT_BASE"}, {AT_ENTRY, "AT_ENTRY"},
		{AT_UID, "AT_UID"}, {AT_EUID, "AT_EUID"}, {AT_GID, "AT_GID"},
		{AT_EGID, "AT_EGID"}, {AT_SECURE, "AT_SECURE"}, {AT_CLKTCK, "AT_CLKTCK"},
		{AT_RANDOM, "AT_RANDOM"}, {AT_EXECFN, "AT_EXECFN"}, {AT_HWCAP, "AT_HWCAP"},
	};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		char what[64];
		snprintf(what, sizeof what, "%s present on the stack", required[i].name);
		check(what, present(auxv, required[i].type));
	}
	CHECK(stack_value(auxv, AT_PAGESZ) == getauxval(AT_PAGESZ));

	CHECK(getauxval(AT_PAGESZ) == 4096);
	CHECK(getauxval(AT_CLKTCK) == 100);
	CHECK(getauxval(AT_SECURE) == 0);
	CHECK(getauxval(AT_BASE) == 0);
	CHECK(getauxval(AT_UID) == getuid());
	CHECK(getauxval(AT_EUID) == geteuid());
	CHECK(getauxval(AT_GID) == getgid());
	CHECK(getauxval(AT_EGID) == getegid());
	CHECK(getauxval(AT_HWCAP) != 0);

	const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
	CHECK(rnd != NULL);
	int nonzero = 0;
	for (int i = 0; rnd && i < 16; i++) /* reading all 16 must not fault */
		nonzero |= rnd[i];
	CHECK(nonzero != 0);

	const char *execfn = (const char *)getauxval(AT_EXECFN);
	CHECK(execfn != NULL);
	CHECK(execfn && strcmp(execfn, argv[0]) == 0);

	const ElfW(Phdr) *phdr = (const ElfW(Phdr) *)getauxval(AT_PHDR);
	CHECK(getauxval(AT_PHENT) == sizeof(ElfW(Phdr)));
	CHECK(getauxval(AT_PHNUM) == __ehdr_start.e_phnum);
	CHECK((const char *)phdr == (const char *)&__ehdr_start + __ehdr_start.e_phoff);
	CHECK(getauxval(AT_ENTRY) == (unsigned long)_start);

	/* The load bias: where the segment holding the ELF header (file offset
	 * 0) was put, minus where the file says it goes. 0 unless PIE. */
	unsigned long bias = 0;
	int loads = 0, entry_in_text = 0;
	for (unsigned i = 0; i < getauxval(AT_PHNUM); i++)
		if (phdr[i].p_type == PT_LOAD && phdr[i].p_offset == 0)
			bias = (unsigned long)&__ehdr_start - phdr[i].p_vaddr;
	for (unsigned i = 0; i < getauxval(AT_PHNUM); i++) {
		if (phdr[i].p_type != PT_LOAD)
			continue;
		loads++;
		unsigned long start = bias + phdr[i].p_vaddr;
		unsigned long entry = getauxval(AT_ENTRY);
		if ((phdr[i].p_flags & PF_X) && entry >= start && entry < start + phdr[i].p_memsz)
			entry_in_text = 1;
	}
	CHECK(loads >= 1);
	CHECK(entry_in_text);
	CHECK(__ehdr_start.e_type == ET_DYN ? bias != 0 : bias == 0);
	printf("ELF type %s\n", __ehdr_start.e_type == ET_DYN ? "ET_DYN (static-pie)" : "ET_EXEC");
	return finish();
}
