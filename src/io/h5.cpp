// placeholder: being written (HDF5 layer)
