module github.com/pcx-dev/pcx

go 1.26.8

require (
	github.com/ebitengine/purego v0.11.3
	github.com/hschendel/stl v1.0.4
	github.com/nlpodyssey/gopickle v0.3.0
	github.com/scigolib/hdf5 v0.14.1
	github.com/urfave/cli/v2 v2.27.7
	golang.org/x/sys v0.50.0
)

require (
	github.com/cpuguy83/go-md2man/v2 v2.0.7 // indirect
	github.com/russross/blackfriday/v2 v2.1.0 // indirect
	github.com/xrash/smetrics v0.0.0-20240521201337-686a1a2994c1 // indirect
	golang.org/x/text v0.14.0 // indirect
)
