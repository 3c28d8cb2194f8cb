using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Dien.Kernels.Primitives;

namespace Dien.Kernels.Head;

/// <summary>
/// The head's layers after its input normalisation, forward and backward over a whole batch on one thread:
/// hidden layers z_j = a_{j-1} W_j^T + b_j, a_j = PReLU(z_j) with a slope per column, then the output layer's O logits
/// (O = 1 for a sigmoid, 2 for a softmax), on CPU memory.
/// </summary>
/// <remarks>
/// Why: on libtorch the head is about fifteen operations forward and backward, each with its own dispatch, allocation
/// and pass through memory, and its products run at about half the rate of the kernels' register-blocked product
/// (<see cref="VectorOps{T}.MultiplyAccumulate(T*, int, int, int, int, T*, int, T*, int)"/>) at the head's widths.
/// Layout: every activation is kept padded to whole registers ([rows, Pad(N_j)]) from the forward to the backward, with
/// zeros in the padding (zero weights, biases and slopes there), so every product runs on full registers and no
/// activation is copied between layers. One thread: in a training step the head runs while the auxiliary loss's
/// kernel holds the other core.
/// </remarks>
internal static unsafe class HeadKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The layers' widths and the memory of one call; every pointer addresses contiguous memory of T.</summary>
    internal sealed class Layers
    {
        /// <summary>Rows of the batch.</summary>
        public int Rows;

        /// <summary>Width of the input, K_0.</summary>
        public int Input;

        /// <summary>Width of each hidden layer, N_j (none allowed).</summary>
        public int[] Hidden = [];

        /// <summary>Logits per row: 1 or 2.</summary>
        public int Outputs;

        /// <summary>Each hidden layer's weight [N_j, K_j], bias [N_j] and slopes [N_j].</summary>
        public nint[] Weights = [], Biases = [], Slopes = [];

        /// <summary>The output layer's weight [O, K_L] and bias [O].</summary>
        public T* OutputWeight, OutputBias;

        /// <summary>The input, padded: [Rows, Pad(Input)], written by <see cref="Forward"/>.</summary>
        public T* InputPadded;

        /// <summary>Each hidden layer's pre-activation z_j and activation a_j, [Rows, Pad(N_j)], written by <see cref="Forward"/>.</summary>
        public nint[] PreActivations = [], Activations = [];

        /// <summary>Width of layer j's input: K_0 for the first, N_{j-1} after.</summary>
        public int InputWidth(int j) => j == 0 ? Input : Hidden[j - 1];

        /// <summary>The input of layer j (the output layer is j = Hidden.Length): the padded input or a_{j-1}.</summary>
        public T* InputOf(int j) => j == 0 ? InputPadded : (T*)Activations[j - 1];
    }

    /// <summary>Runs the layers: the padded input, each z_j and a_j, and the logits [Rows, Outputs] from the input x [Rows, Input].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(Layers l, T* x, T* logits)
    {
        int kp0 = VectorOps<T>.Pad(l.Input);
        NativeMemory.Clear(l.InputPadded, (nuint)((long)l.Rows * kp0 * sizeof(T)));
        for (int i = 0; i < l.Rows; i++)
        {
            VectorOps<T>.Copy(l.InputPadded + ((long)i * kp0), x + ((long)i * l.Input), l.Input);
        }

        for (int j = 0; j < l.Hidden.Length; j++)
        {
            int n = l.Hidden[j], np = VectorOps<T>.Pad(n), k = l.InputWidth(j), kp = VectorOps<T>.Pad(k);
            T* z = (T*)l.PreActivations[j];
            T* wT = PackedMatrix<T>.Transposed((T*)l.Weights[j], n, k, 0, k, np);
            T* bias = PackedMatrix<T>.Padded((T*)l.Biases[j], 1, n, 0, n, np);
            T* slopes = PackedMatrix<T>.Padded((T*)l.Slopes[j], 1, n, 0, n, np);
            try
            {
                for (int i = 0; i < l.Rows; i++)
                {
                    VectorOps<T>.Copy(z + ((long)i * np), bias, np);
                }

                VectorOps<T>.MultiplyAccumulate(l.InputOf(j), kp, 1, l.Rows, k, wT, np, z, np);
                PReluKernel<T>.Forward(z, slopes, (T*)l.Activations[j], l.Rows, np);
            }
            finally
            {
                NativeMemory.AlignedFree(wT);
                NativeMemory.AlignedFree(bias);
                NativeMemory.AlignedFree(slopes);
            }
        }

        // The output layer's few logits as dot products along K: a register column would cost all of K for 1 or 2 lanes.
        int last = l.Hidden.Length, kl = l.InputWidth(last), klp = VectorOps<T>.Pad(kl);
        T* w = PackedMatrix<T>.Padded(l.OutputWeight, l.Outputs, kl, 0, kl, klp);
        try
        {
            T* input = l.InputOf(last);
            for (int i = 0; i < l.Rows; i++)
            {
                for (int o = 0; o < l.Outputs; o++)
                {
                    logits[(i * l.Outputs) + o] = l.OutputBias[o] + VectorOps<T>.Dot(input + ((long)i * klp), w + ((long)o * klp), klp);
                }
            }
        }
        finally
        {
            NativeMemory.AlignedFree(w);
        }
    }

    /// <summary>The gradients, each overwritten, from the logits' gradient [Rows, Outputs] and what <see cref="Forward"/> wrote.</summary>
    /// <param name="l">The layers, after <see cref="Forward"/>.</param>
    /// <param name="dLogits">The logits' gradient [Rows, Outputs].</param>
    /// <param name="dx">The input's gradient [Rows, Input].</param>
    /// <param name="dWeights">Each hidden layer's weight gradient [N_j, K_j].</param>
    /// <param name="dBiases">Each hidden layer's bias gradient [N_j].</param>
    /// <param name="dSlopes">Each hidden layer's slopes' gradient [N_j].</param>
    /// <param name="dOutputWeight">The output layer's weight gradient [O, K_L].</param>
    /// <param name="dOutputBias">The output layer's bias gradient [O].</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(Layers l, T* dLogits, T* dx, nint[] dWeights, nint[] dBiases, nint[] dSlopes, T* dOutputWeight, T* dOutputBias)
    {
        int last = l.Hidden.Length, kl = l.InputWidth(last), klp = VectorOps<T>.Pad(kl);
        int widest = Math.Max(klp, VectorOps<T>.Pad(l.Input));
        foreach (int n in l.Hidden)
        {
            widest = Math.Max(widest, VectorOps<T>.Pad(n));
        }

        // Two gradient buffers of the widest activation take turns: the gradient of a layer's output, then of its input.
        T* dOut = PackedMatrix<T>.AllocClear((long)l.Rows * widest);
        T* dIn = PackedMatrix<T>.AllocClear((long)l.Rows * widest);
        T* column = PackedMatrix<T>.AllocClear(Math.Max(l.Rows, 1));
        T* sums = PackedMatrix<T>.AllocClear(widest);
        T* w = PackedMatrix<T>.Padded(l.OutputWeight, l.Outputs, kl, 0, kl, klp);
        try
        {
            // Output layer: dW_out[o] = sum over rows of g[i, o] a[i]; db_out[o] = sum of g[:, o]; dA[i] = sum over o of g[i, o] W_out[o].
            T* input = l.InputOf(last);
            for (int o = 0; o < l.Outputs; o++)
            {
                T bias = T.Zero;
                for (int i = 0; i < l.Rows; i++)
                {
                    column[i] = dLogits[(i * l.Outputs) + o];
                    bias += column[i];
                }

                dOutputBias[o] = bias;
                NativeMemory.Clear(sums, (nuint)(klp * sizeof(T)));
                VectorOps<T>.AccumulateRows(column, l.Rows, input, klp, sums);
                VectorOps<T>.Copy(dOutputWeight + ((long)o * kl), sums, kl);
                VectorOps<T>.MultiplyAccumulate(column, 1, 1, l.Rows, 1, w + ((long)o * klp), klp, dOut, klp);
            }

            for (int j = last - 1; j >= 0; j--)
            {
                int n = l.Hidden[j], np = VectorOps<T>.Pad(n), k = l.InputWidth(j), kp = VectorOps<T>.Pad(k);
                T* slopes = PackedMatrix<T>.Padded((T*)l.Slopes[j], 1, n, 0, n, np);
                T* wPadded = PackedMatrix<T>.Padded((T*)l.Weights[j], n, k, 0, k, kp);
                T* dW = PackedMatrix<T>.AllocClear((long)n * kp);
                try
                {
                    // Through the PReLU in place: dOut becomes dZ_j, and the slopes' gradient lands in sums.
                    PReluKernel<T>.Backward((T*)l.PreActivations[j], slopes, dOut, dOut, sums, l.Rows, np);
                    VectorOps<T>.Copy((T*)dSlopes[j], sums, n);

                    NativeMemory.Clear(sums, (nuint)(np * sizeof(T)));
                    for (int i = 0; i < l.Rows; i++)
                    {
                        VectorOps<T>.AddInPlace(sums, dOut + ((long)i * np), np);
                    }

                    VectorOps<T>.Copy((T*)dBiases[j], sums, n);

                    // dW_j [N, Kp] = dZ_j^T a_{j-1}: dZ read transposed, in place.
                    T* a = l.InputOf(j);
                    VectorOps<T>.MultiplyAccumulate(dOut, 1, np, n, l.Rows, a, kp, dW, kp);
                    T* target = (T*)dWeights[j];
                    for (int r = 0; r < n; r++)
                    {
                        VectorOps<T>.Copy(target + ((long)r * k), dW + ((long)r * kp), k);
                    }

                    // dA_{j-1} = dZ_j W_j.
                    NativeMemory.Clear(dIn, (nuint)((long)l.Rows * kp * sizeof(T)));
                    VectorOps<T>.MultiplyAccumulate(dOut, np, 1, l.Rows, n, wPadded, kp, dIn, kp);
                    T* swap = dOut;
                    dOut = dIn;
                    dIn = swap;
                }
                finally
                {
                    NativeMemory.AlignedFree(slopes);
                    NativeMemory.AlignedFree(wPadded);
                    NativeMemory.AlignedFree(dW);
                }
            }

            int kp0 = VectorOps<T>.Pad(l.Input);
            for (int i = 0; i < l.Rows; i++)
            {
                VectorOps<T>.Copy(dx + ((long)i * l.Input), dOut + ((long)i * kp0), l.Input);
            }
        }
        finally
        {
            NativeMemory.AlignedFree(dOut);
            NativeMemory.AlignedFree(dIn);
            NativeMemory.AlignedFree(column);
            NativeMemory.AlignedFree(sums);
            NativeMemory.AlignedFree(w);
        }
    }
}
