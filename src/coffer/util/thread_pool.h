// ThreadPool: a fixed set of workers fed from a bounded queue. submit() blocks while the queue
// is full, which is what bounds a pipeline's memory: at most capacity + threads tasks (and the
// buffers they own) exist at once. Tasks must not throw. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace coffer {

class ThreadPool {
public:
    ThreadPool(unsigned threads, size_t capacity) : m_capacity(capacity ? capacity : 1) {
        if (threads == 0) threads = 1;
        for (unsigned i = 0; i < threads; ++i) m_workers.emplace_back([this] { run(); });
    }
    ~ThreadPool() {
        {
            std::lock_guard lock(m_mu);
            m_stopping = true;
        }
        m_not_empty.notify_all();
        for (auto& t : m_workers) t.join();
    }
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    void submit(std::function<void()> task) {
        std::unique_lock lock(m_mu);
        m_not_full.wait(lock, [&] { return m_queue.size() < m_capacity; });
        m_queue.push_back(std::move(task));
        lock.unlock();
        m_not_empty.notify_one();
    }

    // Blocks until every submitted task has finished.
    void wait_idle() {
        std::unique_lock lock(m_mu);
        m_idle.wait(lock, [&] { return m_queue.empty() && m_running == 0; });
    }

    size_t threads() const { return m_workers.size(); }

private:
    void run() {
        for (;;) {
            std::function<void()> task;
            {
                std::unique_lock lock(m_mu);
                m_not_empty.wait(lock, [&] { return m_stopping || !m_queue.empty(); });
                if (m_queue.empty()) return;
                task = std::move(m_queue.front());
                m_queue.pop_front();
                ++m_running;
            }
            m_not_full.notify_one();
            task();
            {
                std::lock_guard lock(m_mu);
                --m_running;
                if (m_queue.empty() && m_running == 0) m_idle.notify_all();
            }
        }
    }

    size_t m_capacity;
    std::mutex m_mu;
    std::condition_variable m_not_empty, m_not_full, m_idle;
    std::deque<std::function<void()>> m_queue;
    size_t m_running = 0;
    bool m_stopping = false;
    std::vector<std::thread> m_workers;
};

}  // namespace coffer
