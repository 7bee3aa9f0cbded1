// The stage's configuration and its wire format (see stageconf_linux.go for
// the encoder). One message on the sync socket: the magic, then records of
// a one-byte tag, a four-byte length (native byte order) and that many
// bytes. Strings carry their terminating NUL and no other; numbers are in
// native byte order.

#ifndef BERTH_STAGE_H
#define BERTH_STAGE_H

#include <stddef.h>
#include <stdint.h>

// The first argument that makes the binary the stage, and the one that
// makes it the stub init of package pid1 (argv: [any, arg, path, argv0,
// args...]).
#define BERTH_STAGE_ARG "__berth-nspawn-stage"
#define BERTH_STUB_ARG "__berth-nspawn-stub"

#define BERTH_STAGE_MAGIC "BST1"
#define BERTH_STAGE_MAGIC_LEN 4
#define BERTH_STAGE_MAX_MSG (1 << 20)

// Record tags. FLAGS, HOSTNAME and ARG (at least one) are required.
enum {
	BERTH_TAG_FLAGS = 1,       // u32: BERTH_F_* bits
	BERTH_TAG_HOSTNAME = 2,    // string
	BERTH_TAG_ARG = 3,         // string, repeated: the path, then argv[1:]
	BERTH_TAG_ENV = 4,         // string, repeated
	BERTH_TAG_CHDIR = 5,       // string
	BERTH_TAG_USER = 6,        // u32 uid, u32 gid, u32 groups...
	BERTH_TAG_CAPS = 7,        // u64 bounding set kept, u64 ambient set
	BERTH_TAG_RLIMIT = 8,      // u32 resource, u64 soft, u64 hard; repeated
	BERTH_TAG_OOM = 9,         // i32 OOM score adjustment
	BERTH_TAG_AFFINITY = 10,   // CPU mask bytes
	BERTH_TAG_PERSONALITY = 11,// u32
	BERTH_TAG_SECCOMP = 12,    // struct sock_filter[]
	BERTH_TAG_MAX = 12,
};

// Flags.
enum {
	BERTH_F_CGROUPNS = 1 << 0,       // unshare a cgroup namespace
	BERTH_F_SYS_INSIDE = 1 << 1,     // mount /sys for the own network namespace
	BERTH_F_CGROUP = 1 << 2,         // mount cgroup2 at /sys/fs/cgroup
	BERTH_F_CGROUP_RW = 1 << 3,      // ... read-write
	BERTH_F_PRIVATE_NET = 1 << 4,    // /proc/sys/net stays writable
	BERTH_F_READ_ONLY = 1 << 5,      // the root is made read-only last
	BERTH_F_CONSOLE = 1 << 6,        // a pty on /dev/console for fds 0-2
	BERTH_F_NO_NEW_PRIVS = 1 << 7,   // PR_SET_NO_NEW_PRIVS
	BERTH_F_AS_PID2 = 1 << 8,        // exec the stub init (fd BERTH_STUB_FD)
	BERTH_F_CHDIR_FALLBACK = 1 << 9, // a failed chdir goes to / instead
	BERTH_F_JOIN_ROOT = 1 << 10,     // started in the mount namespace the spawner builds the
	                                 // tree in: the message carries the root (SCM_RIGHTS) to enter
	BERTH_F_AWAIT_GO = 1 << 11,      // wait for BERTH_MSG_GO before executing the payload
	BERTH_F_ALL = (1 << 12) - 1,
};

// Descriptors the stage is started with.
#define BERTH_SYNC_FD 3
#define BERTH_STUB_FD 4

// Limits the decoder enforces.
#define BERTH_MAX_RLIMITS 16
#define BERTH_RLIMIT_RESOURCES 16
#define BERTH_MAX_GROUPS 65536
#define BERTH_MAX_AFFINITY 1024
#define BERTH_MAX_FILTER 4096

// Stage messages (first byte) from the stage to the spawner, and the one
// from the spawner that lets the payload start.
#define BERTH_MSG_ERROR 'E'
#define BERTH_MSG_FDS 'F'
#define BERTH_MSG_GO 'G'
#define BERTH_FDS_CONSOLE 1
#define BERTH_FDS_NOTIFY 2

struct berth_rlimit {
	uint32_t resource;
	uint64_t soft, hard;
};

// berth_stage is a decoded configuration. Its pointers point into the
// message buffer, except argv, envp and groups, which berth_stage_free
// releases.
struct berth_stage {
	uint32_t flags;
	const char *hostname;
	const char *chdir;
	char **argv; // NULL-terminated; argv[0] is the path
	size_t argc;
	char **envp; // NULL-terminated
	size_t envc;
	int has_user;
	uint32_t uid, gid;
	uint32_t *groups;
	size_t ngroups;
	uint64_t caps, ambient;
	struct berth_rlimit rlimits[BERTH_MAX_RLIMITS];
	size_t nrlimits;
	int has_oom;
	int32_t oom;
	const unsigned char *affinity;
	size_t affinity_len;
	int has_personality;
	uint32_t personality;
	const unsigned char *filter; // struct sock_filter[filter_len / 8]
	size_t filter_len;
};

// berth_stage_decode decodes buf into st. On failure it returns -1 with a
// reason in err (errlen bytes at most) and st holds nothing to free.
int berth_stage_decode(const unsigned char *buf, size_t len, struct berth_stage *st, char *err, size_t errlen);

// berth_stage_free releases what berth_stage_decode allocated.
void berth_stage_free(struct berth_stage *st);

#endif
