#!/usr/bin/env bash
# Gathers, on a machine with the Debian packages installed (scripts/install-deps.sh), the header-only
# build dependencies a bare GPU machine lacks (Eigen 3.4, doctest, with their CMake package files)
# and the Fashion-MNIST files into .gpu-deps/ (ignored by git), so scripts/test-gpu.sh can build there without a network.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=.gpu-deps
rm -rf "$out"
mkdir -p "$out/include" "$out/share"
cp -r /usr/include/eigen3 "$out/include/"
cp -r /usr/share/eigen3 "$out/share/"
cp -r /usr/include/doctest "$out/include/"
for dir in /usr/lib/cmake/doctest /usr/lib/x86_64-linux-gnu/cmake/doctest; do
  if [ -d "$dir" ]; then mkdir -p "$out/lib/cmake" && cp -r "$dir" "$out/lib/cmake/"; fi
done
# Both packages locate their headers relative to their CMake files, so the copy is relocatable.
# Fashion-MNIST (Debian's dataset-fashion-mnist) for the GPU training test and benchmark.
cp -r /usr/share/datasets/fashion-mnist "$out/"
du -sh "$out"
