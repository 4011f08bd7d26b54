module example.test/wasmbinguest

go 1.26
