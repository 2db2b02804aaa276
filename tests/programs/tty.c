/*
 * tty: the terminal queries a program makes on its standard input when it
 * is a terminal (the test gives it a pseudo-terminal it made, 33 rows by
 * 111 columns): isatty, tcgetattr, TCGETS and TIOCGWINSZ, and how many
 * bytes each ioctl writes, which must be the kernel's struct sizes and
 * not one byte more.
 */
#include "check.h"

#include <sys/ioctl.h>
#include <termios.h>

/* written runs ioctl(fd, req, buf) on a buffer of two fillings and
 * returns how many bytes it wrote, counted from the last one changed. */
static int written(int fd, unsigned long req)
{
	unsigned char a[128], b[128];
	memset(a, 0xaa, sizeof a);
	memset(b, 0x55, sizeof b);
	if (ioctl(fd, req, a) < 0 || ioctl(fd, req, b) < 0)
		return -errno;
	int n = 0;
	for (int i = 0; i < (int)sizeof a; i++)
		if (a[i] != 0xaa || b[i] != 0x55)
			n = i + 1;
	return n;
}

int main(void)
{
	begin();
	CHECK(isatty(0));
	struct termios t;
	EXPECT_RET(tcgetattr(0, &t), 0);
	printf("canonical %s, echo %s, VEOF %d, VINTR %d\n", t.c_lflag & ICANON ? "yes" : "no",
	       t.c_lflag & ECHO ? "yes" : "no", t.c_cc[VEOF], t.c_cc[VINTR]);
	printf("TCGETS wrote %d bytes\n", written(0, TCGETS));
	struct winsize ws;
	EXPECT_RET(ioctl(0, TIOCGWINSZ, &ws), 0);
	printf("window %d rows, %d columns\n", ws.ws_row, ws.ws_col);
	printf("TIOCGWINSZ wrote %d bytes\n", written(0, TIOCGWINSZ));
	/* Standard output is a pipe, not a terminal. */
	CHECK(!isatty(1));
	EXPECT_ERR(ioctl(1, TCGETS, &t), ENOTTY);
	return finish();
}
