#!/bin/sh
# Writes the partition tables the tests read: each an 8 MiB image
# partitioned by sfdisk (util-linux), of which the first 17408 bytes
# (protective MBR, header and 128 entries) are kept. Run it in this
# directory to regenerate them.
set -eu
table() {
	name=$1
	shift
	truncate -s 8M "$name.full"
	printf 'label: gpt\n%s' "$*" | sfdisk --no-reread --no-tell-kernel -q "$name.full"
	head -c 17408 "$name.full" >"$name.gpt"
	rm "$name.full"
}
esp="type=c12a7328-f81f-11d2-ba4b-00a0c93ec93b, size=1MiB
"
x64="type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709, size=2MiB
"
x86="type=44479540-f297-41b2-9af7-d131d5f0458a, size=1MiB
"
data="type=0fc63daf-8483-4772-8e79-3d69d8477de4, size=1MiB
"
table esp-root "$esp$x64"
table root32-root64 "$x86$x64"
table esp-root32 "$esp$x86"
table root "$x64"
table esp-data "$esp$data"
table data-data "$data$data"
table root-readonly 'type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709, size=1MiB, attrs="GUID:60"
'
table root-noauto-data 'type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709, size=1MiB, attrs="GUID:63"
'"$data"
table esp "$esp"
table root-ab 'type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709, size=1MiB, name="root-9"
type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709, size=2MiB, name="root-10"
type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709, size=1MiB, name="root-1"
'
