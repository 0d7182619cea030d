//! A dense row-major matrix: the rows of a dataset file.

/// `rows` vectors of `dim` values each, row-major.
///
/// ```
/// let m = quiver::datasets::Matrix::new(2, vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
/// assert_eq!((m.rows(), m.dim()), (2, 2));
/// assert_eq!(m.row(1), &[3.0, 4.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix<T> {
    dim: usize,
    data: Vec<T>,
}

impl<T> Matrix<T> {
    /// A matrix of rows of `dim` values; `None` if `data` is not a whole number of rows (or
    /// `dim` is 0 with data).
    ///
    /// ```
    /// assert!(quiver::datasets::Matrix::new(3, vec![0u8; 7]).is_none());
    /// ```
    pub fn new(dim: usize, data: Vec<T>) -> Option<Matrix<T>> {
        let whole = if dim == 0 {
            data.is_empty()
        } else {
            data.len().is_multiple_of(dim)
        };
        whole.then_some(Matrix { dim, data })
    }

    /// Number of rows.
    ///
    /// ```
    /// assert_eq!(quiver::datasets::Matrix::new(1, vec![5i32; 3]).unwrap().rows(), 3);
    /// ```
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Values per row.
    ///
    /// ```
    /// assert_eq!(quiver::datasets::Matrix::new(4, vec![0f32; 8]).unwrap().dim(), 4);
    /// ```
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row `i` (panics if `i >= rows()`, like slice indexing).
    ///
    /// ```
    /// let m = quiver::datasets::Matrix::new(1, vec![7u8, 8]).unwrap();
    /// assert_eq!(m.row(0), &[7]);
    /// ```
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The rows, in order.
    ///
    /// ```
    /// let m = quiver::datasets::Matrix::new(2, vec![1u8, 2, 3, 4]).unwrap();
    /// assert_eq!(m.iter().count(), 2);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &[T]> {
        self.data.chunks_exact(self.dim.max(1))
    }

    /// All values, row-major.
    ///
    /// ```
    /// let m = quiver::datasets::Matrix::new(2, vec![1u8, 2]).unwrap();
    /// assert_eq!(m.as_slice(), &[1, 2]);
    /// ```
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The same shape with every value converted by `f`.
    ///
    /// ```
    /// let m = quiver::datasets::Matrix::new(2, vec![1u8, 2]).unwrap();
    /// assert_eq!(m.map(|x| f32::from(*x) / 2.0).row(0), &[0.5, 1.0]);
    /// ```
    pub fn map<U>(&self, f: impl Fn(&T) -> U) -> Matrix<U> {
        Matrix {
            dim: self.dim,
            data: self.data.iter().map(f).collect(),
        }
    }

    /// The first `rows` rows (all if fewer).
    ///
    /// ```
    /// let m = quiver::datasets::Matrix::new(1, vec![1u8, 2, 3]).unwrap();
    /// assert_eq!(m.truncated(2).rows(), 2);
    /// ```
    pub fn truncated(mut self, rows: usize) -> Matrix<T> {
        self.data.truncate(rows.saturating_mul(self.dim));
        self
    }
}
