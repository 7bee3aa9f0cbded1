//go:build linux && cgo

// The container side of the tree, built by the stage in its own
// namespaces (rootfs.Prepare built the host side): /proc, a private
// network's /sys, /sys/fs/cgroup, devpts and mqueue, the boot ID, the
// read-only root, then pivot_root. Every target is opened inside the root
// with openat2(RESOLVE_IN_ROOT) (API paths with RESOLVE_NO_SYMLINKS) and
// mounted through its handle, never by a path through the image.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stage_internal.h"

#define NOSUID_NODEV_NOEXEC (MS_NOSUID | MS_NODEV | MS_NOEXEC)
#define ATTR_NODEV_SUID (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
#define ATTR_LOCKED (MOUNT_ATTR_RDONLY | ATTR_NODEV_SUID | MOUNT_ATTR_NOEXEC)

// berth_open_in opens rel (relative, inside the root) as an O_PATH handle;
// with strict, no symlink may appear on the way. It returns -1 with errno.
int berth_open_in(int root, const char *rel, int strict) {
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | (strict ? RESOLVE_NO_SYMLINKS : 0),
	};
	for (int i = 0; i < 16; i++) {
		long fd = syscall(SYS_openat2, root, rel, &how, sizeof how);
		if (fd >= 0 || (errno != EINTR && errno != EAGAIN))
			return (int)fd;
	}
	return -1;
}

// berth_must_open_in is berth_open_in that fails the stage.
int berth_must_open_in(int root, const char *rel) {
	int fd = berth_open_in(root, rel, 1);
	if (fd < 0 && errno == ELOOP)
		berth_fail(0, "refusing a symlink in the image: /%s", rel);
	if (fd < 0)
		berth_fail(errno, "open /%s in root", rel);
	return fd;
}

// berth_api_dir opens (creating it when missing) the top-level directory
// rel, which must not be a symlink.
static int berth_api_dir(int root, const char *rel) {
	int fd = berth_open_in(root, rel, 1);
	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(root, rel, 0755) < 0 && errno != EEXIST)
			berth_fail(errno, "create /%s", rel);
		fd = berth_open_in(root, rel, 1);
	}
	if (fd < 0)
		fd = berth_must_open_in(root, rel);
	struct stat st;
	if (fstat(fd, &st) < 0)
		berth_fail(errno, "stat /%s", rel);
	if (S_ISLNK(st.st_mode))
		berth_fail(0, "refusing a symlink in the image: /%s", rel);
	if (!S_ISDIR(st.st_mode))
		berth_fail(0, "/%s in the image is not a directory", rel);
	return fd;
}

// berth_mount_on mounts onto the handle fd through its /proc/self/fd path
// (the host's /proc until pivot_root).
static void berth_mount_on(int fd, const char *what, const char *src, const char *fstype, unsigned long flags, const char *data) {
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (mount(src, path, fstype, flags, data) < 0)
		berth_fail(errno, "mount %s on %s", fstype ? fstype : src, what);
}

// berth_bind_self bind-mounts the directory at fd onto itself.
static void berth_bind_self(int fd, const char *what, int rec) {
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (mount(path, path, NULL, MS_BIND | (rec ? MS_REC : 0), NULL) < 0)
		berth_fail(errno, "bind %s", what);
}

// berth_set_attr sets the MOUNT_ATTR_* bits attrs on the mount at fd.
static void berth_set_attr(int fd, const char *what, uint64_t attrs, unsigned flags) {
	struct mount_attr attr = {.attr_set = attrs};
	if (mount_setattr(fd, "", AT_EMPTY_PATH | flags, &attr, sizeof attr) < 0)
		berth_fail(errno, "set the attributes of %s", what);
}

// berth_bind_tree clones the mount tree at src, sets attrs on it and
// attaches it at target, by handles only.
void berth_bind_tree(int src, int target, const char *what, int rec, uint64_t attrs) {
	int tree = open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0));
	if (tree < 0)
		berth_fail(errno, "bind %s", what);
	if (attrs)
		berth_set_attr(tree, what, attrs, AT_RECURSIVE);
	if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		berth_fail(errno, "attach bind %s", what);
	close(tree);
}

// berth_is_fs fails unless the file at fd lies on a file system of type
// magic.
static void berth_is_fs(int fd, const char *what, long magic) {
	struct statfs st;
	if (fstatfs(fd, &st) < 0)
		berth_fail(errno, "statfs %s", what);
	if ((long)st.f_type != magic)
		berth_fail(0, "%s is not the expected file system after mounting (type %#lx)", what, (long)st.f_type);
}

// procReadOnly entries are made read-only, as nspawn does.
static const char *const berth_proc_ro[] = {"proc/sys", "proc/sysrq-trigger", "proc/acpi", "proc/bus", "proc/fs", "proc/irq"};

static void berth_mount_proc(int root, uint32_t flags) {
	int f = berth_api_dir(root, "proc");
	berth_mount_on(f, "/proc", "proc", "proc", NOSUID_NODEV_NOEXEC, NULL);
	close(f);
	int proc = berth_must_open_in(root, "proc");
	berth_is_fs(proc, "/proc", PROC_SUPER_MAGIC);
	close(proc);
	for (size_t i = 0; i < sizeof berth_proc_ro / sizeof *berth_proc_ro; i++) {
		int e = berth_open_in(root, berth_proc_ro[i], 1);
		if (e < 0)
			continue;
		berth_bind_self(e, berth_proc_ro[i], 1);
		close(e);
		e = berth_must_open_in(root, berth_proc_ro[i]);
		berth_set_attr(e, berth_proc_ro[i], ATTR_LOCKED, 0);
		close(e);
	}
	if (flags & BERTH_F_PRIVATE_NET) { // the container's own network namespace is its to configure
		int net = berth_must_open_in(root, "proc/sys/net");
		berth_bind_self(net, "/proc/sys/net", 0);
		close(net);
	}
}

// sysfs directories bound into /sys for a private network.
static const char *const berth_sys_dirs[] = {"block", "bus", "class", "dev", "devices", "kernel"};

// berth_sys_inside mounts a tmpfs at /sys holding read-only binds of a
// fresh sysfs (of the container's network namespace) and an fs/cgroup
// mount point, then makes the tmpfs read-only.
static void berth_sys_inside(int root) {
	int f = berth_api_dir(root, "sys");
	berth_mount_on(f, "/sys", "tmpfs", "tmpfs", NOSUID_NODEV_NOEXEC, "mode=0755");
	close(f);
	int sys = berth_must_open_in(root, "sys");
	int fs = fsopen("sysfs", FSOPEN_CLOEXEC);
	if (fs < 0 || fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		berth_fail(errno, "new sysfs");
	int m = fsmount(fs, FSMOUNT_CLOEXEC, ATTR_LOCKED);
	if (m < 0)
		berth_fail(errno, "mount new sysfs");
	close(fs);
	for (size_t i = 0; i < sizeof berth_sys_dirs / sizeof *berth_sys_dirs; i++) {
		const char *d = berth_sys_dirs[i];
		if (mkdirat(sys, d, 0755) < 0)
			berth_fail(errno, "create /sys/%s", d);
		int target = berth_open_in(sys, d, 1);
		int tree = open_tree(m, d, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (target < 0 || tree < 0)
			berth_fail(errno, "bind /sys/%s", d);
		if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			berth_fail(errno, "bind /sys/%s", d);
		close(tree);
		close(target);
	}
	close(m);
	if (mkdirat(sys, "fs", 0755) < 0 || mkdirat(sys, "fs/cgroup", 0755) < 0)
		berth_fail(errno, "create /sys/fs/cgroup");
	berth_set_attr(sys, "/sys", ATTR_LOCKED, 0);
	close(sys);
}

static void berth_mount_sys(int root, uint32_t flags) {
	if (flags & BERTH_F_SYS_INSIDE)
		berth_sys_inside(root);
	if (!(flags & BERTH_F_CGROUP))
		return;
	int cg = berth_must_open_in(root, "sys/fs/cgroup");
	unsigned long mf = NOSUID_NODEV_NOEXEC | ((flags & BERTH_F_CGROUP_RW) ? 0 : MS_RDONLY);
	berth_mount_on(cg, "/sys/fs/cgroup", "cgroup2", "cgroup2", mf, NULL);
	close(cg);
}

// berth_dev_mounts mounts devpts and mqueue below /dev, from inside the
// container's user and IPC namespaces.
static void berth_dev_mounts(int root) {
	int pts = berth_must_open_in(root, "dev/pts");
	berth_mount_on(pts, "/dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620,gid=5");
	close(pts);
	int mq = berth_must_open_in(root, "dev/mqueue");
	berth_mount_on(mq, "/dev/mqueue", "mqueue", "mqueue", NOSUID_NODEV_NOEXEC, NULL);
	close(mq);
}

// berth_boot_id binds a fresh random ID over
// /proc/sys/kernel/random/boot_id, from a file on the /run tmpfs that is
// unlinked at once.
static void berth_boot_id(int root) {
	int target = berth_open_in(root, "proc/sys/kernel/random/boot_id", 1);
	if (target < 0)
		return;
	int runp = berth_must_open_in(root, "run");
	int run = openat(runp, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (run < 0)
		berth_fail(errno, "open /run");
	close(runp);
	unsigned char b[16];
	if (getrandom(b, sizeof b, 0) != sizeof b)
		berth_fail(errno, "boot id");
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	char name[64], id[40];
	snprintf(name, sizeof name, ".#proc-sys-kernel-random-boot-id%02x%02x%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
	snprintf(id, sizeof id, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\n",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	int fd = openat(run, name, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0444);
	if (fd < 0 || write(fd, id, strlen(id)) != (ssize_t)strlen(id))
		berth_fail(errno, "boot id");
	close(fd);
	int src = openat(run, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0)
		berth_fail(errno, "boot id");
	berth_bind_tree(src, target, "/proc/sys/kernel/random/boot_id", 0, ATTR_LOCKED);
	unlinkat(run, name, 0);
	close(src);
	close(target);
	close(run);
}

// berth_proc_extras hides /proc/kmsg and gives the container its own boot
// ID, as nspawn does.
static void berth_proc_extras(int root) {
	int kmsg = berth_open_in(root, "proc/kmsg", 1);
	if (kmsg >= 0) {
		int node = berth_must_open_in(root, "run/host/inaccessible/reg");
		berth_bind_tree(node, kmsg, "/proc/kmsg", 0, ATTR_NODEV_SUID);
		close(node);
		close(kmsg);
	}
	berth_boot_id(root);
}

// berth_verify_api checks, after every mount, that /proc and /sys are the
// kernel's file systems: a bind over them (a fake procfs) would make later
// /proc writes lie (CVE-2019-16884).
static void berth_verify_api(int root, uint32_t flags) {
	int proc = berth_must_open_in(root, "proc");
	berth_is_fs(proc, "/proc", PROC_SUPER_MAGIC);
	close(proc);
	int sys = berth_must_open_in(root, "sys");
	berth_is_fs(sys, "/sys", (flags & BERTH_F_SYS_INSIDE) ? TMPFS_MAGIC : SYSFS_MAGIC);
	close(sys);
}

// berth_own_root returns a handle on the working directory (the
// container's root). Where the stage did not join the root the spawner
// built, it is in a user namespace (or another network namespace's
// tree), which inherits the mounts rootfs.Prepare made locked, and
// pivot_root refuses a locked new root: it stacks a recursive bind of the
// root on itself first, whose top is the namespace's own. A stage that
// joined the root already owns its mounts.
static int berth_own_root(uint32_t flags) {
	if (flags & BERTH_F_JOIN_ROOT) {
		int root = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			berth_fail(errno, "open root");
		return root;
	}
	int tree = open_tree(AT_FDCWD, ".", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0 || move_mount(tree, "", AT_FDCWD, ".", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		berth_fail(errno, "bind root");
	return tree;
}

void berth_finish_root(uint32_t flags) {
	if (mount("", "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		berth_fail(errno, "make mounts private");
	int root = berth_own_root(flags);
	berth_mount_proc(root, flags);
	berth_mount_sys(root, flags);
	berth_dev_mounts(root);
	berth_proc_extras(root);
	berth_verify_api(root, flags);
	if (flags & BERTH_F_READ_ONLY)
		berth_set_attr(root, "/", MOUNT_ATTR_RDONLY, 0);
	if (fchdir(root) < 0)
		berth_fail(errno, "enter root");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		berth_fail(errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		berth_fail(errno, "detach old root");
	if (chdir("/") < 0)
		berth_fail(errno, "chdir /");
	close(root);
}
