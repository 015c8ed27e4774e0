# packaging/: Yocto layer, Buildroot external tree, Debian packaging (shipped in the tarball).
