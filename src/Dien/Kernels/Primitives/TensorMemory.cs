using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Dien.Runtime;
using static TorchSharp.torch;

namespace Dien.Kernels.Primitives;

/// <summary>Raw access to the memory of contiguous CPU tensors, without copying.</summary>
internal static unsafe class TensorMemory
{
    /// <summary>
    /// The address of the first element. The tensor must be contiguous, on CPU, of element type T, and
    /// stay alive while the pointer is used (libtorch's CPU allocator never moves memory).
    /// </summary>
    public static T* Pointer<T>(Tensor? tensor)
        where T : unmanaged
    {
        if (tensor is null)
        {
            return null;
        }

        if (!tensor.is_contiguous())
        {
            throw new InvalidOperationException(
                $"A fused kernel was handed a non-contiguous tensor (shape {Guard.ShapeOf(tensor)}, strides [{string.Join(", ", tensor.stride())}]); call contiguous() first.");
        }

        Span<byte> bytes = tensor.bytes;
        return bytes.IsEmpty ? null : (T*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(bytes));
    }

    /// <summary>
    /// What <see cref="Pointer{T}"/> can read: the tensor itself when contiguous (no new handle), else a detached
    /// contiguous copy in the caller's dispose scope.
    /// </summary>
    public static Tensor Readable(Tensor tensor) => tensor.is_contiguous() ? tensor : tensor.detach().contiguous();

    /// <summary>The addresses of several tensors' first elements, as <see cref="Pointer{T}"/> gives each.</summary>
    /// <param name="tensors">Contiguous CPU tensors of element type T.</param>
    public static nint[] Addresses<T>(IEnumerable<Tensor> tensors)
        where T : unmanaged
        => tensors.Select(t => (nint)Pointer<T>(t)).ToArray();
}
