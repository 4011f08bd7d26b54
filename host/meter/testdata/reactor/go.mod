module reactor

go 1.26
