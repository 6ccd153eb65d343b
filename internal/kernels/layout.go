package kernels

// Layout kernels on NHWC float32 tensors: padding, cropping and nearest
// upsampling, and their gradients (each other's inverses).

// Pad2DTo writes x (n, h, w, c) into dst (n, h+top+bottom, w+left+right,
// c) with zeros around it.
func Pad2DTo(dst, x []float32, n, h, w, c, top, bottom, left, right int) {
	ow := w + left + right
	oh := h + top + bottom
	clear(dst[:n*oh*ow*c])
	for b := 0; b < n; b++ {
		for i := 0; i < h; i++ {
			src := x[((b*h+i)*w)*c : ((b*h+i)*w+w)*c]
			o := ((b*oh+i+top)*ow + left) * c
			copy(dst[o:o+w*c], src)
		}
	}
}

// Crop2DTo writes the window of x (n, h, w, c) without top rows, bottom
// rows, left and right columns into dst (n, h-top-bottom, w-left-right, c).
func Crop2DTo(dst, x []float32, n, h, w, c, top, bottom, left, right int) {
	oh, ow := h-top-bottom, w-left-right
	for b := 0; b < n; b++ {
		for i := 0; i < oh; i++ {
			s := ((b*h+i+top)*w + left) * c
			copy(dst[((b*oh+i)*ow)*c:((b*oh+i)*ow+ow)*c], x[s:s+ow*c])
		}
	}
}

// UpsampleNearestTo repeats each pixel of x (n, h, w, c) sh times down and
// sw times across into dst (n, h*sh, w*sw, c).
func UpsampleNearestTo(dst, x []float32, n, h, w, c, sh, sw int) {
	ow := w * sw
	for b := 0; b < n; b++ {
		for i := 0; i < h; i++ {
			row := dst[((b*h*sh+i*sh)*ow)*c : ((b*h*sh+i*sh)*ow+ow)*c]
			for j := 0; j < w; j++ {
				px := x[((b*h+i)*w+j)*c : ((b*h+i)*w+j+1)*c]
				for k := 0; k < sw; k++ {
					copy(row[(j*sw+k)*c:(j*sw+k+1)*c], px)
				}
			}
			for r := 1; r < sh; r++ {
				copy(dst[((b*h*sh+i*sh+r)*ow)*c:((b*h*sh+i*sh+r)*ow+ow)*c], row)
			}
		}
	}
}

// UpsampleNearestBackTo is UpsampleNearestTo's gradient: each pixel of dx
// (n, h, w, c) is the sum of the sh x sw block of dy it was copied to.
func UpsampleNearestBackTo(dx, dy []float32, n, h, w, c, sh, sw int) {
	clear(dx[:n*h*w*c])
	ow := w * sw
	for b := 0; b < n; b++ {
		for i := 0; i < h*sh; i++ {
			for j := 0; j < ow; j++ {
				src := dy[((b*h*sh+i)*ow+j)*c : ((b*h*sh+i)*ow+j+1)*c]
				d := dx[((b*h+i/sh)*w+j/sw)*c : ((b*h+i/sh)*w+j/sw+1)*c]
				for k, v := range src {
					d[k] += v
				}
			}
		}
	}
}
