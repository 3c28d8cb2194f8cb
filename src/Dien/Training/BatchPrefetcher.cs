using System.Collections.Concurrent;
using Dien.Data.Batching;
using Dien.Model;
using TorchSharp;

namespace Dien.Training;

/// <summary>
/// Builds the device tensors of upcoming batches on a background thread while the caller trains on the
/// current one. Each <see cref="BehaviourBatch"/> owns its tensors (detached from any dispose scope), so crossing
/// threads is safe; the consumer disposes each batch, and undelivered ones are disposed on <see cref="Dispose"/>.
/// </summary>
internal sealed class BatchPrefetcher : IDisposable
{
    private readonly BlockingCollection<BehaviourBatch> _queue;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _producer;
    private Exception? _error;

    public BatchPrefetcher(IEnumerable<BatchArrays> source, torch.Device device, int depth)
    {
        _queue = new BlockingCollection<BehaviourBatch>(depth);
        _producer = Task.Factory.StartNew(() => Produce(source, device), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>The batches in order; rethrows a producer failure (e.g. invalid arrays) on the consumer's thread, after the batches before it.</summary>
    public IEnumerable<BehaviourBatch> Batches()
    {
        foreach (var batch in _queue.GetConsumingEnumerable())
        {
            yield return batch;
        }

        if (_error is not null)
        {
            // The caller sees the original exception (e.g. ArgumentException naming the bad field), with its stack.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(_error).Throw();
        }
    }

    private void Produce(IEnumerable<BatchArrays> source, torch.Device device)
    {
        try
        {
            foreach (var arrays in source)
            {
                var batch = new BehaviourBatch(arrays, device);
                try
                {
                    _queue.Add(batch, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    batch.Dispose();
                    return;
                }
            }
        }
        catch (Exception e)
        {
            _error = e;
        }
        finally
        {
            _queue.CompleteAdding();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _producer.Wait();
        }
        catch (AggregateException)
        {
            // Failures were recorded in _error.
        }

        while (_queue.TryTake(out var left))
        {
            left.Dispose();
        }

        _queue.Dispose();
        _stop.Dispose();
    }
}
