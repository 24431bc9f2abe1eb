package plot

import (
	"fmt"
	"image"
	"image/color"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/pcx-dev/pcx/images"
)

// ReconstructionColumns are the columns of ReconstructionImages.
var ReconstructionColumns = [4]string{"original", "masked input", "reconstruction", "reconstruction + visible"}

// maxGridRows bounds the rows of a reconstruction figure.
const maxGridRows = 64

// ReconstructionImages draws a masked autoencoder's reconstructions as a
// grid, one row per image and the columns of ReconstructionColumns: the
// image, the masked input the encoder sees, the rebuilt image and the
// rebuilt image with the visible patches pasted back. Every image of a row
// must have the same size; each cell shows it enlarged without smoothing
// (nearest neighbour), so that the patches stay sharp. title may be empty.
func ReconstructionImages(path, title string, rows [][4]*images.Image) error {
	if len(rows) == 0 || len(rows) > maxGridRows {
		return fmt.Errorf("plot: %d rows of reconstructions (want 1 to %d)", len(rows), maxGridRows)
	}
	for i, r := range rows {
		for j, m := range r {
			if m == nil || m.W <= 0 || m.H <= 0 || len(m.Pix) != 3*m.W*m.H {
				return fmt.Errorf("plot: reconstruction row %d, %s: no image", i, ReconstructionColumns[j])
			}
			if m.W != r[0].W || m.H != r[0].H {
				return fmt.Errorf("plot: reconstruction row %d: %s is %d×%d, the original %d×%d", i, ReconstructionColumns[j], m.W, m.H, r[0].W, r[0].H)
			}
		}
	}
	cell := vg.Points(96)
	pad := vg.Points(6)
	head := text.Style{Font: font.From(sans, 10), XAlign: draw.XCenter, YAlign: draw.YTop, Handler: gplot.DefaultTextHandler, Color: color.Black}
	ts := titleStyle()
	var titleH vg.Length
	if title != "" {
		titleH = ts.Height(title) + vg.Points(8)
	}
	headH := head.Height("M") + vg.Points(6)
	w := 4*cell + 5*pad
	w = max(w, ts.Width(title)+2*pad)
	h := titleH + headH + vg.Length(len(rows))*(cell+pad) + pad
	px := int(cell.Dots(dpi))
	return writePNG(path, w, h, func(c draw.Canvas) error {
		c.SetColor(color.White)
		c.Fill(c.Rectangle.Path())
		top := c.Max.Y - pad
		if title != "" {
			c.FillText(ts, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: top}, title)
			top -= titleH
		}
		x0 := c.Min.X + (w-(4*cell+3*pad))/2
		for j, name := range ReconstructionColumns {
			c.FillText(head, vg.Point{X: x0 + vg.Length(j)*(cell+pad) + cell/2, Y: top}, name)
		}
		top -= headH
		for i, r := range rows {
			y := top - vg.Length(i)*(cell+pad) - cell
			for j, m := range r {
				x := x0 + vg.Length(j)*(cell+pad)
				c.DrawImage(vg.Rectangle{Min: vg.Point{X: x, Y: y}, Max: vg.Point{X: x + cell, Y: y + cell}}, enlarge(m, px))
			}
		}
		return nil
	})
}

// enlarge scales m to a px×px image by nearest neighbour.
func enlarge(m *images.Image, px int) image.Image {
	px = max(px, 1)
	out := image.NewRGBA(image.Rect(0, 0, px, px))
	for y := 0; y < px; y++ {
		sy := y * m.H / px
		for x := 0; x < px; x++ {
			sx := x * m.W / px
			s := m.Pix[3*(sy*m.W+sx):]
			o := out.Pix[4*(y*px+x):]
			o[0], o[1], o[2], o[3] = s[0], s[1], s[2], 255
		}
	}
	return out
}
