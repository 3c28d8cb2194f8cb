using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Dien.Kernels.Primitives;

/// <summary>
/// One register width for the kernels' matrix products, so that one loop body serves every width: the JIT
/// compiles a generic method once per struct implementing this, with every member inlined.
/// </summary>
/// <typeparam name="TVector">The register type.</typeparam>
/// <typeparam name="T">float or double.</typeparam>
internal unsafe interface IVectorWidth<TVector, T>
    where TVector : struct
    where T : unmanaged
{
    /// <summary>Lanes per register.</summary>
    static abstract int Count { get; }

    /// <summary>The register at <paramref name="p"/>, unaligned.</summary>
    static abstract TVector Load(T* p);

    /// <summary>Writes <paramref name="v"/> at <paramref name="p"/>, unaligned.</summary>
    static abstract void Store(T* p, TVector v);

    /// <summary><paramref name="x"/> in every lane.</summary>
    static abstract TVector Broadcast(T x);

    /// <summary>a * b + c, fused where the hardware has it.</summary>
    static abstract TVector MulAdd(TVector a, TVector b, TVector c);

    /// <summary>a + b.</summary>
    static abstract TVector Add(TVector a, TVector b);

    /// <summary>a - b.</summary>
    static abstract TVector Subtract(TVector a, TVector b);

    /// <summary>a * b, lane by lane.</summary>
    static abstract TVector Multiply(TVector a, TVector b);

    /// <summary>All lanes zero.</summary>
    static abstract TVector Zero { get; }

    /// <summary>The sum of the lanes.</summary>
    static abstract T Sum(TVector v);
}

/// <summary><see cref="Vector{T}"/>: the width every kernel's layout is padded to.</summary>
/// <typeparam name="T">float or double.</typeparam>
internal readonly unsafe struct NarrowVectors<T> : IVectorWidth<Vector<T>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector<T>.Count;

    public static Vector<T> Zero => Vector<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Load(T* p) => VectorOps<T>.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(T* p, Vector<T> v) => VectorOps<T>.Store(p, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Broadcast(T x) => new(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> MulAdd(Vector<T> a, Vector<T> b, Vector<T> c) => VectorOps<T>.MulAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Add(Vector<T> a, Vector<T> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Subtract(Vector<T> a, Vector<T> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Multiply(Vector<T> a, Vector<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector<T> v) => Vector.Sum(v);
}

#if NET9_0_OR_GREATER
/// <summary>
/// <see cref="Vector512{T}"/>, where the hardware runs it (AVX-512) and <see cref="Vector{T}"/> is narrower, as it
/// is by default on x64. Twice the lanes per instruction roughly doubles the products' rate here (measured on an
/// AMD EPYC with AVX-512: 76 against 122-135 GFLOP/s on one thread), while layouts stay padded to
/// <see cref="Vector{T}"/>: a product runs the wide registers over the whole 512-bit column blocks and the narrow
/// ones over the rest.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
internal readonly unsafe struct WideVectors<T> : IVectorWidth<Vector512<T>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Whether products should use this width: 512-bit registers run in hardware and are wider than <see cref="Vector{T}"/>.</summary>
    public static readonly bool Enabled = Vector512.IsHardwareAccelerated && Vector512<T>.Count > Vector<T>.Count
        && (typeof(T) == typeof(float) || typeof(T) == typeof(double));

    public static int Count => Vector512<T>.Count;

    public static Vector512<T> Zero => Vector512<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Load(T* p) => Vector512.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(T* p, Vector512<T> v) => v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Broadcast(T x) => Vector512.Create(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> MulAdd(Vector512<T> a, Vector512<T> b, Vector512<T> c)
    {
        if (typeof(T) == typeof(float))
        {
            return Vector512.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
        }

        return Vector512.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Add(Vector512<T> a, Vector512<T> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Subtract(Vector512<T> a, Vector512<T> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Multiply(Vector512<T> a, Vector512<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector512<T> v) => Vector512.Sum(v);
}
#endif
