// Package certfile reads and writes the small public files of the
// certificate packages (certificates, a public name, a CSR, settings): a
// bounded read, so a wrong path (a device, a huge file) cannot eat memory,
// and a staged write, so a reader never sees half a file.
package certfile

import (
	"fmt"
	"io"
	"os"
)

// MaxSize bounds every file Read reads. Certificates and chains are a few
// KB; 64 KiB leaves room for long chains and settings.
const MaxSize = 64 << 10

// Read reads path, refusing a file larger than MaxSize. An error opening
// the file is returned as it is, so callers can test it with
// errors.Is(err, fs.ErrNotExist).
func Read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("read %s: larger than %d bytes", path, MaxSize)
	}
	return data, nil
}

// Stage writes data, mode 0644 and synced, to a new temporary file in dir
// whose name starts with "."+name, to be renamed to name once everything
// it belongs with is saved. It returns the temporary file's path. On
// failure the file is removed, and tmp is "" if it could not be created;
// err is the underlying error, for the caller to put in context.
func Stage(dir, name string, data []byte) (tmp string, err error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return "", err
	}
	tmp = f.Name()
	_, err = f.Write(data)
	if err == nil {
		// Public data only: readable by anyone.
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return tmp, err
	}
	return tmp, nil
}
