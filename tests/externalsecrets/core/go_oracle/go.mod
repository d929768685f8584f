module esooracle

go 1.24
