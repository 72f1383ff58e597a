/*
 * sehelper: the SELinux and bpf(2) odds and ends the enforcing QEMU boot
 * needs and Debian's busybox lacks. Built static by tests/src/selinux.rs
 * (gcc -static), run inside the guest by tests/qemu/selinux/init.sh.
 *
 *   sehelper load FILE         write FILE into /sys/fs/selinux/load in one write
 *   sehelper enforce 0|1       write /sys/fs/selinux/enforce
 *   sehelper apply FILE        label files: lines "<path> <context>"; a path
 *                              ending in "/" followed by "**" labels the whole
 *                              tree below it (later lines win); "#" starts a
 *                              comment
 *   sehelper get PATH...       print "LABEL <context> <path>" (lgetxattr)
 *   sehelper walk DIR          print "LABEL <context> <path>" for DIR and
 *                              every file below it
 *   sehelper con               print "CON <own context>"
 *   sehelper objget PATH       BPF_OBJ_GET PATH read-write; print
 *                              "OBJGET <context> ok|<errno name> PATH"
 *
 * Exit status: 0 on success, 1 on a usage or system error (objget: 0 either
 * way, the outcome is in the output).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#define XATTR "security.selinux"

static int die(const char *what, const char *arg)
{
	fprintf(stderr, "sehelper: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
	return 1;
}

static int write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return die("open", path);
	ssize_t n = write(fd, buf, len);
	if (n < 0 || (size_t)n != len) {
		int rc = die("write", path);
		close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

static int load(const char *file)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return die("open", file);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return die("stat", file);
	char *buf = malloc(st.st_size);
	if (!buf)
		return die("malloc", file);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);
		if (n <= 0)
			return die("read", file);
		got += n;
	}
	close(fd);
	return write_file("/sys/fs/selinux/load", buf, got);
}

static const char *tree_ctx;
static int tree_rc;

static int label_one(const char *path, const char *ctx)
{
	if (lsetxattr(path, XATTR, ctx, strlen(ctx) + 1, 0) < 0) {
		fprintf(stderr, "sehelper: label %s %s: %s\n", path, ctx, strerror(errno));
		return 1;
	}
	return 0;
}

static int label_tree_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	tree_rc |= label_one(path, tree_ctx);
	return 0;
}

static int apply(const char *file)
{
	FILE *f = fopen(file, "re");
	if (!f)
		return die("open", file);
	char line[4096];
	int rc = 0;
	while (fgets(line, sizeof line, f)) {
		char path[2048], ctx[512];
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		if (sscanf(line, "%2047s %511s", path, ctx) != 2)
			continue;
		size_t len = strlen(path);
		if (len >= 3 && strcmp(path + len - 3, "/**") == 0) {
			path[len - 3] = 0;
			tree_ctx = ctx;
			tree_rc = 0;
			if (nftw(path, label_tree_cb, 32, FTW_PHYS | FTW_MOUNT) < 0)
				rc |= die("walk", path);
			rc |= tree_rc;
		} else {
			rc |= label_one(path, ctx);
		}
	}
	fclose(f);
	return rc;
}

static int print_label(const char *path)
{
	char ctx[512];
	ssize_t n = lgetxattr(path, XATTR, ctx, sizeof ctx - 1);
	if (n < 0) {
		printf("LABEL ?%s %s\n", strerrorname_np(errno), path);
		return 1;
	}
	ctx[n] = 0;
	printf("LABEL %s %s\n", ctx, path);
	return 0;
}

static int walk_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	tree_rc |= print_label(path);
	return 0;
}

static void own_context(char *buf, size_t size)
{
	int fd = open("/proc/self/attr/current", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		snprintf(buf, size, "?");
		return;
	}
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

static int objget(const char *path)
{
	char con[256];
	own_context(con, sizeof con);
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.pathname = (unsigned long)path;
	long fd = syscall(__NR_bpf, BPF_OBJ_GET, &attr, sizeof attr);
	if (fd < 0) {
		printf("OBJGET %s %s %s\n", con, strerrorname_np(errno), path);
	} else {
		printf("OBJGET %s ok %s\n", con, path);
		close((int)fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		goto usage;
	const char *cmd = argv[1];
	if (!strcmp(cmd, "load") && argc == 3)
		return load(argv[2]);
	if (!strcmp(cmd, "enforce") && argc == 3)
		return write_file("/sys/fs/selinux/enforce", argv[2], strlen(argv[2]));
	if (!strcmp(cmd, "apply") && argc == 3)
		return apply(argv[2]);
	if (!strcmp(cmd, "get") && argc >= 3) {
		int rc = 0;
		for (int i = 2; i < argc; i++)
			rc |= print_label(argv[i]);
		return rc;
	}
	if (!strcmp(cmd, "walk") && argc == 3) {
		tree_rc = 0;
		if (nftw(argv[2], walk_cb, 32, FTW_PHYS | FTW_MOUNT) < 0)
			return die("walk", argv[2]);
		return tree_rc;
	}
	if (!strcmp(cmd, "con") && argc == 2) {
		char con[256];
		own_context(con, sizeof con);
		printf("CON %s\n", con);
		return 0;
	}
	if (!strcmp(cmd, "objget") && argc == 3)
		return objget(argv[2]);
usage:
	fprintf(stderr, "usage: sehelper load|enforce|apply|get|walk|con|objget ...\n");
	return 1;
}
