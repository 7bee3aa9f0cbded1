package rootfs

import (
	"fmt"
	"os"

	"github.com/berth-dev/berth/internal/kernel"
	"golang.org/x/sys/unix"
)

// pivotImage stacks on dir the image's directory s.PivotRoot, with the
// image's own root moved to s.PivotOld inside it when that is set and
// gone otherwise, as systemd-nspawn's --pivot-root= does for images that
// hold several trees (OSTree deployments). Both paths are resolved inside
// the image. An idmapped image (s.RootTree) is attached first and used
// up: the caller continues with the pivoted tree as a plain image. It
// returns the number of mounts stacked on dir.
func pivotImage(dir string, s *Spec) (int, error) {
	stacked := 0
	if s.RootTree != 0 {
		target, err := openRoot(dir)
		if err != nil {
			return 0, err
		}
		err = attachTree(s.RootTree, target.f, dir, 0)
		target.Close()
		if err != nil {
			return 0, err
		}
		stacked++
	}
	image, err := openRoot(dir)
	if err != nil {
		return stacked, err
	}
	defer image.Close()
	newRoot, err := openDirIn(image, s.PivotRoot)
	if err != nil {
		return stacked, err
	}
	defer newRoot.Close()
	trees, err := cloneTrees(newRoot, image.f, s.PivotOld != "")
	if err != nil {
		return stacked, err
	}
	defer closeTrees(trees)
	if err := attachTree(trees[0], image.f, s.PivotRoot, 0); err != nil {
		return stacked, err
	}
	stacked++
	if s.PivotOld == "" {
		return stacked, nil
	}
	return stacked, attachOldRoot(dir, trees[1], s.PivotOld)
}

// openDirIn opens the directory p inside the image, following symlinks
// (the last one too) inside it.
func openDirIn(image *Root, p string) (*os.File, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := kernel.Openat2(int(image.f.Fd()), p, &how)
	if err != nil {
		return nil, fmt.Errorf("--pivot-root=%s: %w", p, err)
	}
	return os.NewFile(uintptr(fd), p), nil
}

// cloneTrees returns detached recursive copies of the mounts at newRoot
// and, with old, at image.
func cloneTrees(newRoot, image *os.File, old bool) ([]int, error) {
	from := []*os.File{newRoot}
	if old {
		from = append(from, image)
	}
	var trees []int
	for _, f := range from {
		tree, err := kernel.RetryInt("open_tree", func() (int, error) {
			return unix.OpenTree(int(f.Fd()), "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE|unix.AT_EMPTY_PATH)
		})
		if err != nil {
			closeTrees(trees)
			return nil, fmt.Errorf("--pivot-root: clone %s: %w", f.Name(), err)
		}
		trees = append(trees, tree)
	}
	return trees, nil
}

// closeTrees closes detached mount trees (an attached one stays mounted).
func closeTrees(trees []int) {
	for _, t := range trees {
		unix.Close(t)
	}
}

// attachOldRoot attaches the image's old root tree at old inside the
// pivoted root at dir, creating the directory when missing.
func attachOldRoot(dir string, tree int, old string) error {
	root, err := openRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	target, err := root.mkdirAll(old)
	if err != nil {
		return fmt.Errorf("--pivot-root: %w", err)
	}
	defer target.Close()
	return attachTree(tree, target, old, 0)
}
