//! ONNX tensors (initializers) as tract tensors, read the way tract-onnx reads them: raw
//! little-endian bytes when present, else the typed repeated field of the element type.

use crate::proto::TensorProto;
use pricelet::error::quoted;
use tract_core::internal::*;

/// The tract type of an ONNX `TensorProto.DataType` pricelet models may hold (numbers, booleans).
pub(crate) fn datum_type(onnx: i32) -> Option<DatumType> {
    Some(match onnx {
        1 => DatumType::F32,
        2 => DatumType::U8,
        3 => DatumType::I8,
        4 => DatumType::U16,
        5 => DatumType::I16,
        6 => DatumType::I32,
        7 => DatumType::I64,
        9 => DatumType::Bool,
        10 => DatumType::F16,
        11 => DatumType::F64,
        12 => DatumType::U32,
        13 => DatumType::U64,
        _ => return None,
    })
}

/// Why an initializer cannot be read as a tract tensor.
#[derive(Debug, thiserror::Error)]
#[error("tensor {} {problem}", quoted(tensor))]
pub(crate) struct TensorError {
    pub tensor: String,
    pub problem: TensorProblem,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum TensorProblem {
    #[error("has ONNX data type {0}, which pricelet models do not hold")]
    UnsupportedType(i32),
    #[error(
        "keeps its data in another file; save the model with its data inside (one .onnx file)"
    )]
    ExternalData,
    #[error("has dimension {0}")]
    NegativeDimension(i64),
    #[error("has more values than a model file can hold")]
    TooManyValues,
    #[error("holds {values} values for its dims {dims:?} ({volume})")]
    WrongValueCount {
        values: usize,
        dims: Vec<i64>,
        volume: usize,
    },
    /// tract or ndarray refused the data.
    #[error("cannot be read ({0})")]
    Unreadable(TractError),
}

/// `t` as a tract tensor, or why it cannot be read.
pub(crate) fn load_tensor(t: &TensorProto) -> Result<Tensor, TensorError> {
    read_tensor(t).map_err(|problem| TensorError {
        tensor: t.name.clone(),
        problem,
    })
}

fn read_tensor(t: &TensorProto) -> Result<Tensor, TensorProblem> {
    let dt = datum_type(t.data_type).ok_or(TensorProblem::UnsupportedType(t.data_type))?;
    if t.data_location != 0 {
        return Err(TensorProblem::ExternalData);
    }
    let shape: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| TensorProblem::NegativeDimension(d)))
        .collect::<Result<_, _>>()?;
    let volume = shape
        .iter()
        .try_fold(1usize, |v, &d| v.checked_mul(d))
        .filter(|&v| v <= pricelet::limits::MAX_MODEL_BYTES)
        .ok_or(TensorProblem::TooManyValues)?;
    let wrong = |values: usize| TensorProblem::WrongValueCount {
        values,
        dims: t.dims.clone(),
        volume,
    };
    if !t.raw_data.is_empty() {
        let size = dt.size_of();
        if t.raw_data.len() != volume * size {
            return Err(wrong(t.raw_data.len() / size.max(1)));
        }
        // SAFETY: the byte count equals the shape's volume times the type's size (checked above),
        // and every bit pattern is a valid value of these plain number types.
        let tensor = unsafe {
            match dt {
                DatumType::U8 => Tensor::from_raw::<u8>(&shape, &t.raw_data),
                DatumType::U16 => Tensor::from_raw::<u16>(&shape, &t.raw_data),
                DatumType::U32 => Tensor::from_raw::<u32>(&shape, &t.raw_data),
                DatumType::U64 => Tensor::from_raw::<u64>(&shape, &t.raw_data),
                DatumType::I8 => Tensor::from_raw::<i8>(&shape, &t.raw_data),
                DatumType::I16 => Tensor::from_raw::<i16>(&shape, &t.raw_data),
                DatumType::I32 => Tensor::from_raw::<i32>(&shape, &t.raw_data),
                DatumType::I64 => Tensor::from_raw::<i64>(&shape, &t.raw_data),
                DatumType::F16 => Tensor::from_raw::<f16>(&shape, &t.raw_data),
                DatumType::F32 => Tensor::from_raw::<f32>(&shape, &t.raw_data),
                DatumType::F64 => Tensor::from_raw::<f64>(&shape, &t.raw_data),
                _ => {
                    let bools: Vec<bool> = t.raw_data.iter().map(|&b| b != 0).collect();
                    tract_core::ndarray::Array::from_shape_vec(shape.clone(), bools)
                        .map(Tensor::from)
                        .map_err(|e| anyhow!(e))
                }
            }
        };
        return tensor.map_err(TensorProblem::Unreadable);
    }
    macro_rules! typed {
        ($field:expr, $map:expr) => {{
            let values: Vec<_> = $field.iter().map($map).collect();
            if values.len() != volume {
                return Err(wrong(values.len()));
            }
            tract_core::ndarray::Array::from_shape_vec(shape.clone(), values)
                .map(Tensor::from)
                .map_err(|e| TensorProblem::Unreadable(anyhow!(e)))
        }};
    }
    // Which field holds which type: onnx.proto's comments on each field.
    match dt {
        DatumType::Bool => typed!(t.int32_data, |&x| x != 0),
        DatumType::U8 => typed!(t.int32_data, |&x| x as u8),
        DatumType::U16 => typed!(t.int32_data, |&x| x as u16),
        DatumType::U32 => typed!(t.uint64_data, |&x| x as u32),
        DatumType::U64 => typed!(t.uint64_data, |&x| x),
        DatumType::I8 => typed!(t.int32_data, |&x| x as i8),
        DatumType::I16 => typed!(t.int32_data, |&x| x as i16),
        DatumType::I32 => typed!(t.int32_data, |&x| x),
        DatumType::I64 => typed!(t.int64_data, |&x| x),
        DatumType::F16 => typed!(t.int32_data, |&x| f16::from_bits(x as u16)),
        DatumType::F64 => typed!(t.double_data, |&x| x),
        _ => typed!(t.float_data, |&x| x),
    }
}
