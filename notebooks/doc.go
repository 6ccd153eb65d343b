// Package notebooks holds the course's Jupyter notebooks (*.ipynb), written
// in Go for the gophernotes kernel that install-kernel.sh builds for this
// repository. It has no code: its tests check the committed notebooks and
// execute every one of them headless, in quick mode, with Jupyter's
// nbconvert (see the README's "Notebooks" section).
package notebooks
