/* true: the smallest static program, for start-up and fork+exec+wait. */
int main(void)
{
	return 0;
}
