module example.test/sealreactor

go 1.26
