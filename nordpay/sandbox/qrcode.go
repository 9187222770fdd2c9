package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
)

// qrPNGBase64 draws a small QR-like image of the address (finder patterns in three corners,
// modules from a hash of the address) and returns it as base64 PNG. It is a real PNG that
// decodes and displays, not a scannable QR code: the sandbox only needs the shape of the
// answer.
func qrPNGBase64(address string) string {
	const modules, scale, quiet = 25, 4, 4
	size := (modules + 2*quiet) * scale
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	sum := sha256.Sum256([]byte(address))
	bit := func(k int) bool {
		h := sum[(k/8)%len(sum)] ^ byte(k*131)
		return h>>(k%8)&1 == 1
	}
	finder := func(x, y int) (bool, bool) {
		for _, o := range [][2]int{{0, 0}, {modules - 7, 0}, {0, modules - 7}} {
			dx, dy := x-o[0], y-o[1]
			if dx >= -1 && dx <= 7 && dy >= -1 && dy <= 7 {
				if dx < 0 || dy < 0 || dx > 6 || dy > 6 {
					return true, false
				}
				ring := min(dx, dy, 6-dx, 6-dy)
				return true, ring != 1
			}
		}
		return false, false
	}
	for y := range modules {
		for x := range modules {
			in, dark := finder(x, y)
			if !in {
				dark = bit(y*modules + x)
			}
			if !dark {
				continue
			}
			for py := range scale {
				for px := range scale {
					img.SetColorIndex((x+quiet)*scale+px, (y+quiet)*scale+py, 1)
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}
