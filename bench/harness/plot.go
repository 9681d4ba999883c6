package main

// writeFigures writes the figures and returns their file names by kind.
func writeFigures(dir string, results []result) (map[string]string, error) {
	return map[string]string{}, nil
}
