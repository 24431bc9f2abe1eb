package cpu

import (
	"math"
	"testing"
)

func TestNormCDFAccuracy(t *testing.T) {
	var worstCDF, worstPDF, worstExp float64
	for i := -100000; i <= 100000; i++ {
		x := float32(i) * 9e-5 // [-9, 9]
		cdf, pdf := normCDF(x)
		w := float64(x)
		worstCDF = math.Max(worstCDF, math.Abs(float64(cdf)-0.5*(1+math.Erf(w/math.Sqrt2))))
		wantPDF := math.Exp(-w*w/2) / math.Sqrt(2*math.Pi)
		worstPDF = math.Max(worstPDF, math.Abs(float64(pdf)-wantPDF))
		if x <= 0 {
			e := math.Exp(w)
			worstExp = math.Max(worstExp, math.Abs(float64(expf(x))-e)/e)
		}
	}
	if worstCDF > 3e-7 || worstPDF > 2e-7 || worstExp > 5e-7 {
		t.Errorf("worst errors: Φ %.2g, φ %.2g, exp (relative) %.2g", worstCDF, worstPDF, worstExp)
	}
}
